#!/usr/bin/env bash
# MPTCP proxy benchmarks (issue 3, must show 4): BenchmarkProxyLab, one lab
# and one UE session per count, summarised by benchstat, then the ratios the
# goals are stated in, from the medians over the counts. Needs root (network
# namespaces) and the Debian packages mptcpize and socat.
# Usage: test/bench-proxy.sh [count]   (raw results kept in $BENCH_OUT or a temp file)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-6} # benchstat wants 6 for a confidence interval
out=${BENCH_OUT:-$(mktemp /tmp/bench-proxy.XXXXXX)}
[ "$(id -u)" = 0 ] || { echo "bench-proxy: needs root to make the lab's network namespaces" >&2; exit 1; }

status=0
go test -run '^$' -bench '^BenchmarkProxyLab$' -count "$count" -timeout "$((count * 10))m" ./test/ | tee "$out" || status=$?
echo
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da "$out"
echo

# "name unit median" for every sub-benchmark and metric.
awk '/^BenchmarkProxyLab\// { sub(/-[0-9]+$/, "", $1); for (i = 3; i < NF; i += 2) print $1, $(i + 1), $i }' "$out" |
	sort -k1,1 -k2,2 -k3,3g |
	awk '{ k = $1 " " $2; v[k, ++n[k]] = $3 }
	END { for (k in n) { m = n[k]; print k, (m % 2 ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2) } }' |
	awk '{ med[$1 " " $2] = $3 }
	function ratio(a, b, unit,   x, y) {
		x = med["BenchmarkProxyLab/" a " " unit]; y = med["BenchmarkProxyLab/" b " " unit]
		return (x == "" || y == "" || y == 0) ? "n/a" : sprintf("%.2f", x / y)
	}
	function line(what, r, goal) { printf "%-46s %6s   %s\n", what, r, goal }
	END {
		printf "%-46s %6s   %s\n", "ratio (medians)", "got", "goal"
		split("unshaped shaped", S, " "); split("up down", D, " ")
		for (i = 1; i <= 2; i++) for (j = 1; j <= 2; j++) {
			p = "throughput/" S[i] "/" D[j] "/"
			line(S[i] " " D[j] ": proxy/ceiling Mbit/s", ratio(p "proxy", p "ceiling", "Mbit/s"), ">= 0.95")
			line(S[i] " " D[j] ": proxy/socat Mbit/s", ratio(p "proxy", p "socat", "Mbit/s"), ">= 3")
			line(S[i] " " D[j] ": proxy/socat CPU-s/GB", ratio(p "proxy", p "socat", "CPU-s/GB"), "<= 0.2")
		}
		line("connect: proxy/direct conn/s", ratio("connect/proxy", "connect/direct", "conn/s"), ">= 0.9")
		line("ttfb: proxy/direct time to first byte", ratio("ttfb/proxy", "ttfb/direct", "µs/ttfb"), "<= 1.1")
		line("ttfb: proxy/direct-mptcp (same UE client)", ratio("ttfb/proxy", "ttfb/direct-mptcp", "µs/ttfb"), "")
	}'
echo "raw results: $out"
exit "$status"
