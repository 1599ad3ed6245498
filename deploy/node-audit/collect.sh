#!/usr/bin/env bash
# Collects the DaemonSet's reports: prints one JSON array of
# {"node": ..., "report": <portcullis node audit JSON>} on stdout, and a
# one-line summary per node on stderr.
#   deploy/node-audit/collect.sh > node-audit.json
set -euo pipefail
ns=portcullis-node-audit
kubectl -n "$ns" rollout status daemonset/portcullis-node-audit --timeout=300s >&2
kubectl -n "$ns" get pods -l app.kubernetes.io/name=portcullis-node-audit \
    -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}' |
  while read -r pod node; do
    kubectl -n "$ns" logs "$pod" -c audit | jq -c --arg node "$node" '{node: $node, report: .}'
  done | jq -s . | tee >(jq -r '.[] | "\(.node): \(.report.summary.fail) failed, \(.report.summary.warn) warnings, \(.report.summary.error) errors" >&2)
