#!/usr/bin/env bash
# Benchmark of `portcullis node audit` (every check of the built-in catalog)
# on this machine and on a fixture node root, next to `lynis audit system
# --quick` and `oscap xccdf eval` with Debian's SCAP Security Guide content,
# all timed by hyperfine in one run (medians of RUNS runs).
#
#   bench/node.sh [RUNS]          (default 10 runs for portcullis, 3 for peers)
#
# Needs: hyperfine, lynis, openscap-scanner, ssg-debian (apt-get install
# hyperfine lynis openscap-scanner ssg-debian). Debian ships SSG content up
# to Debian 11; the Debian 11 data stream's `standard` profile is used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
runs=${1:-10}
peer_runs=${PEER_RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# PORTCULLIS_BIN=path/to/release/portcullis skips the build.
bin=${PORTCULLIS_BIN:-}
if [[ -z $bin ]]; then
  cargo build --release --locked -q --manifest-path "$repo/Cargo.toml" -p portcullis
  bin=${CARGO_TARGET_DIR:-$repo/target}/release/portcullis
fi

# A fixture node: kubelet (flags + config), kube-proxy, containerd, Docker,
# sshd with a drop-in, sysctls and AppArmor state, 300 other processes.
root=$work/node
put() { mkdir -p "$(dirname "$root$1")"; printf '%b' "$2" > "$root$1"; chmod "${3:-644}" "$root$1"; }
put /proc/812/cmdline '/usr/bin/kubelet\0--config=/var/lib/kubelet/config.yaml\0--kubeconfig=/etc/kubernetes/kubelet.conf\0' 444
put /var/lib/kubelet/config.yaml 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: false\n  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt\nauthorization:\n  mode: Webhook\nreadOnlyPort: 0\nrotateCertificates: true\nprotectKernelDefaults: true\n' 600
put /etc/kubernetes/kubelet.conf 'apiVersion: v1\n' 600
put /etc/kubernetes/pki/ca.crt 'CA\n' 644
put /etc/systemd/system/kubelet.service.d/10-kubeadm.conf '[Service]\n' 600
put /proc/900/cmdline '/usr/local/bin/kube-proxy\0--config=/var/lib/kube-proxy/config.conf\0' 444
put /var/lib/kube-proxy/config.conf 'metricsBindAddress: 127.0.0.1:10249\n' 600
put /proc/700/cmdline '/usr/bin/containerd\0' 444
put /etc/containerd/config.toml 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  stream_server_address = "127.0.0.1"\n' 644
put /run/containerd/containerd.sock '' 660
put /proc/710/cmdline '/usr/bin/dockerd\0-H\0fd://\0' 444
put /etc/docker/daemon.json '{"icc": false, "live-restore": true, "no-new-privileges": true, "userns-remap": "default"}' 644
put /run/docker.sock '' 660
put /proc/600/cmdline '/usr/sbin/sshd\0-D\0' 444
put /etc/ssh/sshd_config 'Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nX11Forwarding yes\n' 600
put /etc/ssh/sshd_config.d/10-hardening.conf 'PermitRootLogin no\nPasswordAuthentication no\nAllowGroups ssh-users\n' 600
put /etc/ssh/ssh_host_ed25519_key 'KEY\n' 600
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
  put "/proc/sys/${kv%%=*}" "${kv#*=}\n"
done
put /sys/module/apparmor/parameters/enabled 'Y\n'
put /sys/kernel/security/apparmor/profiles 'docker-default (enforce)\n'
put /proc/1/status 'Name:\tsystemd\nSeccomp:\t0\n'
for pid in $(seq 2000 2300); do put "/proc/$pid/cmdline" "/usr/bin/worker-$pid\0--flag=value\0" 444; done

ds=/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml
echo "# $(date -u +%FT%TZ) on $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr); $(ls /proc | grep -c '^[0-9]') processes on this machine"
echo "# checks: $("$bin" node audit --format json --fail-on none | jq '.summary.total'); $(lynis --version 2>/dev/null | head -1 | sed 's/^/lynis /'); $(oscap --version | head -1)"
hyperfine -N -i --warmup 3 --runs "$runs" --style none --export-json "$work/portcullis.json" \
  -n "portcullis node audit (this machine)" "$bin node audit --format json --fail-on none" \
  -n "portcullis node audit --root fixture" "$bin node audit --root $root --format json --fail-on none" >/dev/null
hyperfine -i --warmup 0 --runs "$peer_runs" --style none --export-json "$work/peers.json" \
  -n "lynis audit system --quick" "lynis audit system --quick --no-colors --no-log > /dev/null" \
  -n "oscap xccdf eval (ssg-debian11 standard)" "oscap xccdf eval --profile xccdf_org.ssgproject.content_profile_standard $ds > /dev/null" >/dev/null
echo "| command | runs | median ms | min ms | max ms | mean CPU (user+sys) ms |"
echo "|---|---:|---:|---:|---:|---:|"
jq -r '.results[] | "| `\(.command)` | \(.times | length) | \(.median * 1000 | . * 10 | round / 10) | \(.min * 1000 | . * 10 | round / 10) | \(.max * 1000 | . * 10 | round / 10) | \((.user + .system) * 1000 | . * 10 | round / 10) |"' \
  "$work/portcullis.json" "$work/peers.json"
