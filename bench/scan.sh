#!/usr/bin/env bash
# Benchmark of `portcullis db` and `portcullis scan`:
#  - db update from every feed under ../shared/fixtures/vulndata/advisories
#  - opening the database and matching 10,000 packages (in process:
#    crates/matcher/examples/match_timing.rs)
#  - scan of debian12-full with a warm layer cache, and cold next to
#    `portcullis sbom` cold on the same image in the same run.
#
#   bench/scan.sh [RUNS]          (default 5 runs per row)
#
# Needs: hyperfine and jq; makes its own release build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
runs=${1:-5}
shared=${SHARED:-$repo/../shared}
advisories=$shared/fixtures/vulndata/advisories
layout=$shared/fixtures/images/oci
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --locked -q --manifest-path "$repo/Cargo.toml" -p portcullis
cargo build --release --locked -q --manifest-path "$repo/Cargo.toml" -p portcullis-matcher --example match_timing
target=${CARGO_TARGET_DIR:-$repo/target}/release
bin=$target/portcullis
db=$work/vulndb.bin

sources=""
for feed in "$advisories"/*/; do sources+=" --source $feed"; done
image="oci:$layout:debian12-full"

echo "# $(date -u +%FT%TZ) on $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $runs runs per row"
hyperfine --style none --runs "$runs" --export-markdown "$work/update.md" \
  -n "db update (every feed in advisories/)" "$bin db update --db $db $sources" >/dev/null
"$bin" db update --db "$db" $sources 2>&1 | sed 's/^/# /'
"$bin" scan "$image" --quiet --offline --db "$db" --cache-dir "$work/warm" --format json > "$work/scan.json"
hyperfine --style none --runs "$runs" --export-markdown "$work/warm.md" \
  -n "scan debian12-full (warm layer cache)" "$bin scan $image --quiet --offline --db $db --cache-dir $work/warm --format json" >/dev/null
# Cold: the same --prepare empties the cache before every run of both commands.
hyperfine --style none --runs "$runs" --export-markdown "$work/cold.md" --prepare "rm -rf $work/cold" \
  -n "scan debian12-full (cold cache)" "$bin scan $image --quiet --offline --db $db --cache-dir $work/cold --format json" \
  -n "sbom debian12-full (cold cache)" "$bin sbom $image --quiet --cache-dir $work/cold --format json" >/dev/null
cat "$work/update.md"; tail -n +3 "$work/warm.md"; tail -n +3 "$work/cold.md"
echo
echo "| in process | median | CPU per match (all threads) |"
echo "|---|---|---|"
"$target/examples/match_timing" "$db"
"$target/examples/match_timing" "$db" patched | tail -1
echo "# findings on debian12-full: $(jq '.findings | length' "$work/scan.json") $(jq -c '.summary' "$work/scan.json")"
