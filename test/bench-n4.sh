#!/usr/bin/env bash
# N4 load benchmark: smfsim load against atsssd with a durable store, on
# loopback. Prints establishments/s and latency of a batch of 10k sessions
# at 0→10k live sessions and at 90k→100k live sessions, and atsssd's
# resident memory per idle session. Usage: test/bench-n4.sh [total]
set -euo pipefail
cd "$(dirname "$0")/.."
total=${1:-100000}
dir=$(mktemp -d)
trap 'kill $(cat "$dir/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$dir"' EXIT

go build -o "$dir/" ./cmd/atsssd ./cmd/smfsim
cat >"$dir/atsssd.yaml" <<EOF
log_level: warn
store_path: $dir/sessions.db
metrics_listen: 127.0.0.1:19101
pfcp:
  node_id: 127.0.0.1
  listen: [127.0.0.1:18806]
  allowed_peers: [127.0.0.0/8]
  max_sessions: $((total + 1000))
  peer_rate: 1000000
  peer_burst: 100000
  heartbeat_interval: 1h       # smfsim exits between runs
  atsss:
    atsss_ll: true
    mptcp:
      address4: 203.0.113.1
      port: 8803
      link_specific_pools: {3gpp: ["2001:db8:3::/64"], non3gpp: ["2001:db8:4::/64"]}
    pmf: {address4: 203.0.113.1, port_base: 20000}
EOF
"$dir/atsssd" -config "$dir/atsssd.yaml" 2>"$dir/atsssd.log" &
echo $! >"$dir/pid"
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$(cat "$dir/pid")/status"; }
rss0=$(rss)

# load N SEID-offset [flags]: establish N sessions whose CP SEIDs start at offset.
load() {
	"$dir/smfsim" load -upf 127.0.0.1:18806 -local 127.0.0.1:0 -sessions "$1" -seid "$2" \
		-concurrency 128 -atsss mptcp,atsss-ll,pmf "${@:3}" 2>/dev/null | grep -E '^load:|latency|causes'
}
echo "== 10k sessions into an empty store"
load 10000 1
if [ "$total" -gt 20000 ]; then
	echo "== 10k more at 3,000/s offered, below capacity: latency without queueing"
	load 10000 10001 -rate 3000
	echo "== $((total - 30000)) more (not reported)"
	load $((total - 30000)) 20001 >/dev/null
	echo "== the last 10k, at $((total - 10000))→$total live sessions"
	load 10000 $((total - 10000 + 1))
fi
sleep 2 # idle
rss1=$(rss)
echo "== atsssd RSS: ${rss0} KiB at start, ${rss1} KiB with $total sessions: $(( (rss1 - rss0) * 1024 / total )) bytes per idle session"
awk '/^(RssAnon|RssFile)/' "/proc/$(cat "$dir/pid")/status"
curl -s 127.0.0.1:19101/metrics | awk -v n="$total" '/^go_memstats_heap_inuse_bytes / {printf "Go heap in use: %.0f bytes per session\n", $2 / n}'
