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

RPID=$(cat "$TMP/redis.pid")
TCK=$(getconf CLK_TCK)
# CPU time (user + system, clock ticks) the server process used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One test at a time, so a command the server refuses shows as n/a. Prints
# "req/s cpu_us_per_request" (the server's own CPU time per request, which
# other load on a shared machine barely moves).
run() {
  local c0 c1 r
  c0=$(cpu_ticks "$3")
  r=$(timeout 300 redis-benchmark -p "$1" -t "$2" -n "$N" -P "$P" -c "$C" -q 2>/dev/null \
    | tr '\r' '\n' | grep -oE '[0-9.]+ requests per second' | head -1 | cut -d' ' -f1 || true)
  c1=$(cpu_ticks "$3")
  echo "${r:-n/a} $(python3 -c "print(f'{($c1-$c0)*1e6/$TCK/$N:.2f}')")"
}

echo "redis-benchmark -t $TESTS -n $N -P $P -c $C (cpu: server CPU µs per request)"
printf '%-8s %14s %14s %8s %10s %10s\n' test redis-server ferrite ratio redis-cpu ferrite-cpu
for t in ${TESTS//,/ }; do
  read -r rv rc < <(run "$RPORT" "$t" "$RPID")
  read -r fv fc < <(run "$FPORT" "$t" "$FPID")
  ratio=n/a
  if [ "$rv" != n/a ] && [ "$fv" != n/a ]; then ratio=$(python3 -c "print(f'{$fv/$rv:.2f}x')"); fi
  printf '%-8s %14s %14s %8s %10s %10s\n' "$t" "$rv" "$fv" "$ratio" "$rc" "$fc"
done
