#!/usr/bin/env bash
# Load test of `portcullis admission serve`: wrk over TLS on loopback posts
# real Pod CREATE AdmissionReviews (fixture captures) to /validate at several
# concurrency levels; prints requests/s, p50/p99/p99.9 latency, errors and the
# server's memory as Markdown tables for BENCHMARKS.md.
#
#   bench/admission.sh [SECONDS_PER_LEVEL] [CONNECTIONS...]   (default 15 s; 16 64 256)
#   BIN=path/to/portcullis bench/admission.sh ...             (skip the release build)
#   NICE=-10 bench/admission.sh ...   (as root: server and wrk ahead of other work on a shared machine)
#
# Two runs:
#  1. pod security + hardening + registry rules only (`--no-scan`);
#  2. with image scanning: the images live in a real registry on loopback
#     (Debian's docker-registry, pushed with skopeo); the first request for an
#     unscanned image is timed, then wrk measures decisions whose verdicts are
#     cached (tag resolution and scan verdict both cache hits).
#
# Needs: wrk, docker-registry, skopeo, jq, curl (apt-get install wrk
# docker-registry skopeo jq curl). The load generator shares the machine's
# cores with the server, as the issue asks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
seconds=${1:-15}
shift || true
levels=("$@")
((${#levels[@]})) || levels=(16 64 256)
shared=${SHARED:-$repo/../shared}
reviews=$shared/fixtures/k8s/admission-reviews
layout=$shared/fixtures/images/oci
work=$(mktemp -d)
pids=()
cleanup() {
  # Every process this script started, by PID; a failed kill or a non-zero
  # exit status must not stop the cleanup (set -e).
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for tool in wrk docker-registry skopeo jq curl; do
  command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 2; }
done
if [[ -z ${BIN:-} ]]; then
  cargo build --release --locked -q --manifest-path "$repo/Cargo.toml" -p portcullis
fi
bin=${BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/portcullis}
"$bin" admission certs --out "$work/tls" >/dev/null

nice_run=(nice -n "${NICE:-0}")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# serve NAME POLICY ARGS...: starts the webhook, sets $server and $addr.
serve() {
  local name=$1 policy=$2; shift 2
  "${nice_run[@]}" "$bin" admission serve --policy "$policy" --tls-cert "$work/tls/tls.crt" --tls-key "$work/tls/tls.key" \
    --listen 127.0.0.1:0 --log-format json "$@" >"$work/$name.out" 2>"$work/$name.log" &
  server=$!
  pids+=("$server")
  for _ in $(seq 200); do grep -q 'listening on' "$work/$name.out" 2>/dev/null && break; sleep 0.05; done
  addr=$(sed -n 's/^listening on //p' "$work/$name.out")
  [[ -n $addr ]] || { cat "$work/$name.log" >&2; exit 1; }
}

rss_mib() { awk -v k="$2" '$1 == k":" {print int($2 / 1024)}' "/proc/$1/status"; }

# post BODY: one request with curl; prints milliseconds.
post_ms() {
  curl -s -o "$work/answer.json" -w '%{time_total}' --max-time 120 --cacert "$work/tls/ca.crt" \
    -H 'Content-Type: application/json' --data-binary "@$1" "https://localhost:${addr##*:}/validate" |
    awk '{printf "%.1f", $1 * 1000}'
}

# levels URL: the wrk table at every concurrency level.
levels_table() {
  printf '| %11s | %9s | %8s | %8s | %9s | %8s | %6s | %14s |\n' connections "req/s" "p50 ms" "p99 ms" "p99.9 ms" "max ms" errors "RSS MiB (peak)"
  printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------- ----------- ---------- ---------- ----------- ---------- -------- ----------------
  wrk -t2 -c16 -d3s -s "$here/admission.lua" "$1" >/dev/null # warm-up
  for c in "${levels[@]}"; do
    line=$("${nice_run[@]}" wrk -t2 -c"$c" -d"${seconds}s" --timeout 5s -s "$here/admission.lua" "$1" | grep '^RESULT')
    val() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$line"; }
    printf '| %11s | %9s | %8.2f | %8.2f | %9.2f | %8.2f | %6s | %14s |\n' "$c" "$(val rps)" \
      "$(echo "$(val p50_us) / 1000" | bc -l)" "$(echo "$(val p99_us) / 1000" | bc -l)" \
      "$(echo "$(val p999_us) / 1000" | bc -l)" "$(echo "$(val max_us) / 1000" | bc -l)" "$(val errors)" \
      "$(rss_mib "$server" VmRSS) ($(rss_mib "$server" VmHWM))"
  done
  # Every answer was a decision: the counters say which.
  curl -s --cacert "$work/tls/ca.crt" "https://localhost:${addr##*:}/metrics" |
    grep -E '^portcullis_admission_(requests|bad_requests|verdict_cache_hits|scans)_total' | sed 's/^/    /'
}

echo "# $(date -u +%FT%TZ) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# wrk -t2 -d${seconds}s over TLS (keep-alive); server: portcullis admission serve (2 worker threads); nice ${NICE:-0}"

# 1. Rules only: two real API-server Pod captures and four wrapped kubewarden
# Pod requests, a mix of allowed and denied decisions.
cat >"$work/rules.yaml" <<'POLICY'
apiVersion: portcullis.dev/v1
kind: Policy
registries:
  allow: ["docker.io/library/*", "ghcr.io/kubewarden/*"]
workloads:
  podSecurity: baseline:latest
  rules: [no-host-port, no-runtime-socket]
POLICY
bodies=("$reviews/kubewarden-wrapped-v1/pod-create-unprivileged.json" "$reviews/kubewarden-wrapped-v1/pod-create-privileged.json")
for f in no_privileged_containers privileged_container privileged_init_container privileged_ephemeral_container; do
  jq '{apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: .}' \
    "$reviews/kubewarden-raw-requests/pod-privileged-policy/$f.json" >"$work/$f.json"
  bodies+=("$work/$f.json")
done
export BODIES
BODIES=$(IFS=:; echo "${bodies[*]}")
serve rules "$work/rules.yaml" --no-scan
first=$(post_ms "${bodies[0]}")
echo
echo "## 1. Pod security, hardening and registry rules (--no-scan); ${#bodies[@]} Pod CREATE reviews round-robin"
echo "idle RSS $(rss_mib "$server" VmRSS) MiB; first request on a fresh server (TLS handshake included): $first ms"
echo
levels_table "https://$addr/validate"
kill "$server"; wait "$server" 2>/dev/null || true

# 2. With scanning: a registry on loopback holding the fixture images.
port=$(free_port)
mkdir -p "$work/registry"
cat >"$work/registry/config.yml" <<CONFIG
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry/data
http:
  addr: 127.0.0.1:$port
  secret: portcullis-bench
CONFIG
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
for image in debian12-min debian12-full; do
  skopeo copy -q --dest-tls-verify=false "oci:$layout:$image" "docker://127.0.0.1:$port/bench/$image:1"
done
"$bin" db update --db "$work/vulndb.bin" --source "$shared/fixtures/vulndata/advisories/pypa-advisory-database" >/dev/null 2>&1
cat >"$work/scan.yaml" <<'POLICY'
apiVersion: portcullis.dev/v1
kind: Policy
vulnerabilities:
  failOn: high
workloads:
  podSecurity: baseline:latest
  rules: [no-host-port, no-runtime-socket]
admission:
  scanTimeout: 60s
POLICY
serve scan "$work/scan.yaml" --db "$work/vulndb.bin" --cache-dir "$work/cache" --insecure --request-timeout-seconds 90
pod_with() { jq --arg img "$1" '.request.uid = "bench-\($img)" | .request.object.spec.containers |= map(.image = $img)' \
  "$reviews/kubewarden-wrapped-v1/pod-create-unprivileged.json" >"$2"; }
pod_with "127.0.0.1:$port/bench/debian12-min:1" "$work/min.json"
pod_with "127.0.0.1:$port/bench/debian12-full:1" "$work/full.json"
first_min=$(post_ms "$work/min.json")
min_decision=$(jq -r '.response.allowed' "$work/answer.json")
first_full=$(post_ms "$work/full.json")
full_decision=$(jq -r '.response.allowed' "$work/answer.json")
second_full=$(post_ms "$work/full.json")
echo
echo "## 2. With image scanning (images in a docker-registry on loopback, PyPA advisories, failOn: high)"
echo "first request for an unscanned image (resolve tag, pull, inventory, match, decide): debian12-min $first_min ms (allowed=$min_decision), debian12-full $first_full ms (allowed=$full_decision); the same request again: $second_full ms"
echo
BODIES="$work/min.json:$work/full.json"
levels_table "https://$addr/validate"
