# Shared helpers for the bench/*.sh scripts (sourced, not run).
# measure NAME RUNS [--before CMD] -- CMD...: runs CMD RUNS times under
# /usr/bin/time and prints one row: median wall seconds, max of peak RSS (MiB).
# --before runs CMD before each run, untimed (e.g. to empty a cache).

measure() {
  local name=$1 runs=$2; shift 2
  local before=""
  if [[ $1 == --before ]]; then before=$2; shift 2; fi
  [[ $1 == -- ]] && shift
  local times=() rss=0 i out record
  record=$(mktemp)
  for ((i = 0; i < runs; i++)); do
    [[ -n $before ]] && eval "$before"
    /usr/bin/time -f '%e %M' -o "$record" "$@" >/dev/null 2>&1 || echo "warning: $name exited non-zero" >&2
    out=$(tail -1 "$record")
    times+=("${out% *}")
    ((${out#* } > rss)) && rss=${out#* }
  done
  rm -f "$record"
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
  printf '| %-44s | %8.3f | %8.1f |\n' "$name" "$median" "$(echo "$rss / 1024" | bc -l)"
}

table_header() {
  printf '| %-44s | %8s | %8s |\n' "command" "median s" "peak MiB"
  printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "----------" "----------"
}
