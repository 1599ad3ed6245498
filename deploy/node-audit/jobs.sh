#!/usr/bin/env bash
# Creates one audit Job per node (deploy/node-audit/job.yaml with the node's
# name), waits for them, and prints {"node": ..., "report": ...} per node as
# one JSON array on stdout.
#   deploy/node-audit/jobs.sh > node-audit.json
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=portcullis-node-audit
kubectl apply -f "$here/daemonset.yaml" --dry-run=client -o json |
  jq '.items[] | select(.kind == "Namespace")' | kubectl apply -f - >/dev/null
nodes=$(kubectl get nodes -o jsonpath='{.items[*].metadata.name}')
for node in $nodes; do
  # Node names are DNS subdomains: safe in a Job name (truncated to 63).
  sed "s/NODE_NAME/$node/g" "$here/job.yaml" | kubectl apply -f - >/dev/null
done
kubectl -n "$ns" wait --for=condition=complete --timeout=300s job -l app.kubernetes.io/name=portcullis-node-audit >/dev/null
{
  for node in $nodes; do
    kubectl -n "$ns" logs "job/portcullis-node-audit-$node" | jq -c --arg node "$node" '{node: $node, report: .}'
  done
} | jq -s .
