#!/bin/bash
# The canary judge's statistics (issue 13), part of make bench: the time of
# one judgement of 10 metrics of 1,000 points a side (NaN handling, outlier
# fences, Mann-Whitney interval by root finding, effect sizes, scoring), and
# beside it, in the same interleaved rounds, a plain sort of the same 20,000
# points, the floor any rank test pays. The Go benchmarks are in
# internal/canary/bench_test.go; this script records the medians as a
# section of RESULTS.md (replacing an earlier one).
# Usage: bench/canary.sh [RESULTS.md] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
results=${1:-bench/RESULTS.md}
rounds=${2:-5}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go test -c -o "$bin/canary.test" ./internal/canary/
for ((r = 1; r <= rounds; r++)); do
	"$bin/canary.test" -test.run '^$' -test.bench '^(BenchmarkJudge|BenchmarkSortSameData)$' -test.benchtime 20x
done | tee "$bin/out"
section=$(awk -v rounds="$rounds" '
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
  }
  /^BenchmarkJudge-/ { judge[++nj] = $3 / 1e6 }
  /^BenchmarkSortSameData-/ { sorted[++ns] = $3 / 1e6 }
  END {
    for (i = 1; i <= nj; i++) ratio[i] = judge[i] / sorted[i] # side by side, round by round
    mr = median(ratio, nj); mj = median(judge, nj); ms = median(sorted, ns)
    lo = judge[1]; hi = judge[nj]
    print "## 6. canary_judge: one judgement of 10 metrics × 1,000 points a side"
    print ""
    print "`bench/canary.sh` (Go benchmarks in internal/canary/bench_test.go), medians of " rounds " interleaved rounds of 20"
    print "judgements each; the data have gaps, integer ties and spikes, half the metrics remove outliers."
    print ""
    print "| variant | median | × sort (median of the rounds) | min – max |"
    print "|---|---:|---:|---:|"
    printf "| canary.Judge (10 metrics, 20,000 points) | %.2f ms | %.1f | %.2f ms – %.2f ms |\n", mj, mr, lo, hi
    printf "| sort of the same 20,000 points (copies) | %.2f ms | 1.0 | %.2f ms – %.2f ms |\n", ms, sorted[1], sorted[ns]
  }' "$bin/out")
echo "$section"
machine="Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs."
tmp=$(mktemp)
awk '/^## 6\. canary_judge/ {skip = 1; next} /^## / && skip {skip = 0} !skip' "$results" > "$tmp"
printf '\n%s\n\n%s\n' "$section" "$machine" >> "$tmp"
cat -s "$tmp" > "$results"
rm -f "$tmp"
