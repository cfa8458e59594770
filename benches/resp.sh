#!/usr/bin/env bash
# redis-benchmark against Ferrite's RESP listener and against redis-server,
# side by side. Both servers run on free loopback ports and are stopped by
# their pids.
#
#   benches/resp.sh            # full size (the lead's measurement)
#   N=20000 C=10 benches/resp.sh   # smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
C=${C:-50}
P=${P:-16}
TESTS=${TESTS:-get,set,lpush,lpop,incr}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cargo build --release -q -p ferrite-store --example resp_server
RPORT=$(free_port)
FPORT=$(free_port)
TMP=$(mktemp -d)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize yes --pidfile "$TMP/redis.pid" --dir "$TMP" --logfile "$TMP/redis.log"
target/release/examples/resp_server --port "$FPORT" >"$TMP/ferrite.log" 2>&1 &
FPID=$!
cleanup() {
  kill "$FPID" 2>/dev/null || true
  [ -f "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
for port in "$RPORT" "$FPORT"; do
  for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.05; done
done

# One test at a time, so a command the server refuses shows as n/a.
rps() {
  timeout 300 redis-benchmark -p "$1" -t "$2" -n "$N" -P "$P" -c "$C" -q 2>/dev/null \
    | tr '\r' '\n' | grep -oE '[0-9.]+ requests per second' | head -1 | cut -d' ' -f1 || true
}

echo "redis-benchmark -t $TESTS -n $N -P $P -c $C"
printf '%-8s %16s %16s %8s\n' test redis-server ferrite ratio
for t in ${TESTS//,/ }; do
  rv=$(rps "$RPORT" "$t")
  fv=$(rps "$FPORT" "$t")
  ratio=n/a
  if [ -n "$rv" ] && [ -n "$fv" ]; then ratio=$(python3 -c "print(f'{$fv/$rv:.2f}x')"); fi
  printf '%-8s %16s %16s %8s\n' "$t" "${rv:-n/a}" "${fv:-n/a}" "$ratio"
done
