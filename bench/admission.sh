#!/usr/bin/env bash
# Load test of `portcullis admission serve`: wrk over TLS on loopback posts
# real Pod CREATE AdmissionReviews (fixture captures) to /validate at several
# concurrency levels; prints requests/s, p50/p99/p99.9 latency, errors and the
# server's memory as a Markdown table for BENCHMARKS.md.
#
#   bench/admission.sh [SECONDS_PER_LEVEL] [CONNECTIONS...]   (default 15 s; 16 64 256)
#   BIN=path/to/portcullis bench/admission.sh ...             (skip the release build)
#
# Needs: a release build (made here), wrk (apt-get install wrk), openssl-free:
# the certificates come from `portcullis admission certs`. The load generator
# shares the machine's cores with the server, as the issue asks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
seconds=${1:-15}
shift || true
levels=("$@")
((${#levels[@]})) || levels=(16 64 256)
shared=${SHARED:-$repo/../shared}
reviews=$shared/fixtures/k8s/admission-reviews
work=$(mktemp -d)
server=""
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
if [[ -z ${BIN:-} ]]; then
  cargo build --release --locked -q --manifest-path "$repo/Cargo.toml" -p portcullis
fi
bin=${BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/portcullis}

"$bin" admission certs --out "$work/tls" >/dev/null
# The policy of a typical cluster: restricted by default, the default
# hardening rules, a registry allow-list, and one legacy namespace at baseline.
cat >"$work/policy.yaml" <<'POLICY'
apiVersion: portcullis.dev/v1
kind: Policy
registries:
  allow: ["docker.io/library/*", "ghcr.io/kubewarden/*"]
workloads:
  podSecurity: restricted:latest
admission:
  namespaces:
    default:
      podSecurity: baseline:latest
POLICY

# Pod CREATE reviews: two real API-server captures (privileged and not) and
# the wrapped kubewarden Pod requests; a mix of allowed and denied decisions.
bodies=()
for f in kubewarden-wrapped-v1/pod-create-unprivileged.json kubewarden-wrapped-v1/pod-create-privileged.json \
  derived/pod-create-dryrun.json; do
  bodies+=("$reviews/$f")
done
for f in no_privileged_containers privileged_container privileged_init_container; do
  jq '{apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: .}' \
    "$reviews/kubewarden-raw-requests/pod-privileged-policy/$f.json" >"$work/$f.json"
  bodies+=("$work/$f.json")
done
BODIES=$(IFS=:; echo "${bodies[*]}")
export BODIES

"$bin" admission serve --policy "$work/policy.yaml" --tls-cert "$work/tls/tls.crt" --tls-key "$work/tls/tls.key" \
  --listen 127.0.0.1:0 --log-format json >"$work/out" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/out" 2>/dev/null && break; sleep 0.05; done
addr=$(sed -n 's/^listening on //p' "$work/out")
url=https://$addr/validate

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$server/status"; }

# First request on a fresh server (TLS handshake included), with curl.
first_ms=$(curl -s -o /dev/null -w '%{time_total}' --cacert "$work/tls/ca.crt" -H 'Content-Type: application/json' \
  --data-binary "@${bodies[0]}" "https://localhost:${addr##*:}/validate" | awk '{printf "%.2f", $1 * 1000}')

echo "# $(date -u +%FT%TZ) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "# wrk -t2 -d${seconds}s over TLS (keep-alive), ${#bodies[@]} Pod CREATE reviews round-robin; server RSS idle $(( $(rss_kib) / 1024 )) MiB; first request ${first_ms} ms"
printf '| %11s | %9s | %8s | %8s | %9s | %8s | %6s | %12s |\n' connections "req/s" "p50 ms" "p99 ms" "p99.9 ms" "max ms" errors "RSS MiB"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------- ----------- ---------- ---------- ----------- ---------- -------- --------------
wrk -t2 -c16 -d3s -s "$here/admission.lua" "$url" >/dev/null   # warm-up
for c in "${levels[@]}"; do
  line=$(wrk -t2 -c"$c" -d"${seconds}s" --timeout 5s -s "$here/admission.lua" "$url" | grep '^RESULT')
  val() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$line"; }
  printf '| %11s | %9s | %8.2f | %8.2f | %9.2f | %8.2f | %6s | %12s |\n' "$c" "$(val rps)" \
    "$(echo "$(val p50_us) / 1000" | bc -l)" "$(echo "$(val p99_us) / 1000" | bc -l)" \
    "$(echo "$(val p999_us) / 1000" | bc -l)" "$(echo "$(val max_us) / 1000" | bc -l)" "$(val errors)" \
    "$(( $(rss_kib) / 1024 )) (peak $(( $(hwm_kib) / 1024 )))"
done
# Every answer must have been a 200 with a decision: count them from the metrics.
curl -s --cacert "$work/tls/ca.crt" "https://localhost:${addr##*:}/metrics" \
  | grep -E '^portcullis_admission_(requests|bad_requests)_total' | sed 's/^/# /'
