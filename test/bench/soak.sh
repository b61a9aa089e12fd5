#!/usr/bin/env bash
# Soak (not run by CI): saturation-scaler on a real Prometheus scraping
# vllm-sim, 3k calls/s of KEDA cycles (1k cycles/s over --objects
# ScaledObjects) with StreamIsActive streams opening and closing all the
# time, and Prometheus restarted twice (at 1/3 and 2/3 of the run).
#
# Prints: errors by code (every error is unexpected: the scaler runs with
# --max-staleness 30s, so a Prometheus restart must not surface), stream
# ends not caused by the client, RSS at the start (after --settle) and at
# the end with the drift in %, open file descriptors and threads at start
# and end, and an RSS sample every 30 s. Exit 1 when a target is missed:
# errors > 0, RSS drift >= 5 %, fds or threads not constant.
#
# Usage: test/bench/soak.sh [--duration SECONDS] [--settle SECONDS]
#          [--rate CYCLES_PER_S] [--objects N] [--streams N]
#          [--stream-life-ms MS] [--trim-probe] [--build-dir DIR] [--out DIR]
#   --trim-probe  at the end, call malloc_trim(0) in the scaler with gdb and
#                 report the RSS after it: growth that a trim gives back is
#                 freed memory the allocator kept, not a leak
#   defaults: 600 s, settle 60 s, 1000 cycles/s (3k calls/s), 3000
#   ScaledObjects over 300 models, 500 streams living ~5 s each.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

DURATION=600
SETTLE=60
RATE=1000
OBJECTS=3000
MODELS=300
STREAMS=500
LIFE=5000
TRIM=0
BUILD_DIR=$BENCH_SRC/build-bench
OUT=
while [ $# -gt 0 ]; do
    case $1 in
    --duration) DURATION=$2; shift ;;
    --settle) SETTLE=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --objects) OBJECTS=$2; shift ;;
    --models) MODELS=$2; shift ;;
    --streams) STREAMS=$2; shift ;;
    --stream-life-ms) LIFE=$2; shift ;;
    --trim-probe) TRIM=1 ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
    esac
    shift
done
[ "$DURATION" -ge 30 ] || die "--duration: at least 30 s"
if [ "$SETTLE" -ge $((DURATION / 3)) ]; then
    SETTLE=$((DURATION / 6))
fi

mkdir -p "$BUILD_DIR"
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
OUT=${OUT:-$BUILD_DIR/soak-results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
NO_PEER=1
bench_build
pick_cpus

log "soak: ${DURATION}s, $RATE cycles/s ($((RATE * 3)) calls/s), $OBJECTS ScaledObjects / $MODELS models, $STREAMS churning streams"
sim_with_prom "$OUT" "$MODELS"

start_scaler "$OUT/scaler.log" "$SERVER_CPU" --http-listen off \
    --prometheus-url "http://127.0.0.1:$PROM_PORT" --max-staleness 30s
taskset -c "$CLIENT_CPU" "$LOADGEN" --target "127.0.0.1:$SCALER_PORT" --mode cycle --rate "$RATE" \
    --objects "$OBJECTS" --models "$MODELS" --duration "$DURATION" --warmup 0 \
    --churn-streams "$STREAMS" --stream-life-ms "$LIFE" --server-pid "$SCALER_PID" \
    --cpus "$SERVER_CPU,$CLIENT_CPU" --report 1 --label soak \
    >"$OUT/loadgen.json" 2>"$OUT/loadgen.progress" &
LPID=$!
BENCH_PIDS+=("$LPID")

# Stall watcher: when a second's progress line shows calls piling up
# (more than a second's worth in flight), record the connection's socket
# queues (ss) and the scaler's thread states, at most 5 times.
(
    n=0
    while kill -0 "$LPID" 2>/dev/null && [ $n -lt 5 ]; do
        inf=$(tail -1 "$OUT/loadgen.progress" 2>/dev/null | grep -o '"inflight":[0-9]*' | cut -d: -f2 || true)
        if [ -n "$inf" ] && [ "$inf" -gt "$RATE" ]; then
            n=$((n + 1))
            {
                echo "---- stall: $inf calls in flight at $(date +%T.%N)"
                ss -tnpi "( sport = :$SCALER_PORT or dport = :$SCALER_PORT )"
                for t in /proc/"$SCALER_PID"/task/*; do
                    echo "$(cat "$t/comm") $(awk '{print $3}' "$t/stat") $(cat "$t/wchan")"
                done
                sleep 0.3
                ss -tnpi "( sport = :$SCALER_PORT or dport = :$SCALER_PORT )"
            } >>"$OUT/stalls.txt" 2>&1
            sleep 5
        fi
        sleep 0.5
    done
) &
BENCH_PIDS+=($!)

t0=$(date +%s)
at() { # sleep until $1 seconds into the run
    local now
    now=$(date +%s)
    [ $((t0 + $1)) -le "$now" ] || sleep $((t0 + $1 - now))
}
sample() {
    echo "$(($(date +%s) - t0)) $(rss_kb "$SCALER_PID") $(fd_count "$SCALER_PID") $(threads_of "$SCALER_PID")" >>"$OUT/samples.txt"
}
: >"$OUT/samples.txt"
: >"$OUT/events.txt"
: >"$OUT/stalls.txt"
restart1=$((DURATION / 3))
restart2=$((2 * DURATION / 3))
end_at=$((DURATION - 3))
events=$(
    echo "$SETTLE start"
    echo "$restart1 restart"
    echo "$restart2 restart"
    echo "$end_at end"
    for ((t = 30; t < DURATION; t += 30)); do echo "$t sample"; done
)
events=$(sort -n -k1,1 -s <<<"$events")
while read -r when what; do
    at "$when"
    kill -0 "$SCALER_PID" 2>/dev/null || die "the scaler died: $(tail -5 "$OUT/scaler.log")"
    case $what in
    start)
        RSS0=$(rss_kb "$SCALER_PID") FD0=$(fd_count "$SCALER_PID") TH0=$(threads_of "$SCALER_PID")
        log "t=${when}s start: RSS $RSS0 kB, $FD0 fds, $TH0 threads"
        ;;
    restart)
        log "t=${when}s restarting Prometheus"
        echo "$when restart" >>"$OUT/events.txt"
        stop_pid "$PROM_PID"
        start_prom "$OUT/prom" "$PROM_PORT"
        log "t=$(($(date +%s) - t0))s Prometheus back"
        ;;
    end)
        RSS1=$(rss_kb "$SCALER_PID") FD1=$(fd_count "$SCALER_PID") TH1=$(threads_of "$SCALER_PID")
        log "t=${when}s end: RSS $RSS1 kB, $FD1 fds, $TH1 threads"
        RSS_TRIM=0
        if [ $TRIM = 1 ] && command -v gdb >/dev/null; then
            gdb -batch -p "$SCALER_PID" -ex 'call (int) malloc_trim(0)' >/dev/null 2>&1 || true
            RSS_TRIM=$(rss_kb "$SCALER_PID")
            log "after malloc_trim(0): RSS $RSS_TRIM kB"
        fi
        ;;
    sample) sample ;;
    esac
done <<<"$events"
wait "$LPID" || die "loadgen failed: $(tail -5 "$OUT/loadgen.progress")"

"$PYTHON" - "$OUT/loadgen.json" "$RSS0" "$RSS1" "$FD0" "$FD1" "$TH0" "$TH1" "$OUT/samples.txt" \
    "$DURATION" "$SETTLE" "$OUT/loadgen.progress" "$RATE" "$OUT/events.txt" "${RSS_TRIM:-0}" <<'EOF' | tee "$OUT/soak.txt"
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
rss0, rss1, fd0, fd1, th0, th1 = map(int, sys.argv[2:8])
samples = [l.split() for l in open(sys.argv[8]) if l.strip()]
duration, settle = sys.argv[9], sys.argv[10]
prog = [json.loads(l) for l in open(sys.argv[11]) if l.startswith("{")]
rate = 3 * float(sys.argv[12])
events = [l.split() for l in open(sys.argv[13]) if l.strip()]
rss_trim = int(sys.argv[14])
slow = [p for p in prog if p["interval_calls"] < 0.5 * rate * 1.0 or p["interval_p99_us"] > 100000]
drift = (rss1 - rss0) * 100.0 / rss0
errors = r["errors"] + r.get("unfinished", 0) + r.get("skipped", 0)
ends = sum(r.get("stream_unexpected_ends", {}).values())
ok = errors == 0 and ends == 0 and abs(drift) < 5 and fd0 == fd1 and th0 == th1
print("soak: %ss at %.0f calls/s (%d calls, %d cycles), %d stream opens/closes" % (
    duration, r["calls_per_s"], r["calls"], r.get("cycles", 0), r.get("streams_churned", 0)))
print("  errors: %d %s (+%d unfinished, %d not started)" % (
    r["errors"], json.dumps(r["errors_by_code"]), r.get("unfinished", 0), r.get("skipped", 0)))
print("  streams ended by the server: %d %s; stream messages: %d" % (
    ends, json.dumps(r.get("stream_unexpected_ends", {})), r.get("stream_messages", 0)))
print("  latency per call: p50 %.0f us, p99 %.2f ms, p99.9 %.2f ms, max %.1f ms" % (
    r["p50_us"], r["p99_us"] / 1000, r["p999_us"] / 1000, r["max_us"] / 1000))
print("  server CPU: %.1f us per call (%.0f %% of one core)" % (
    r.get("server_cpu_us_per_call", 0), 100 * r.get("server_util", 0)))
print("  RSS at %ss: %.1f MiB, at the end: %.1f MiB, drift %+.2f %% (target < 5 %%)" % (
    settle, rss0 / 1024, rss1 / 1024, drift))
if rss_trim:
    print("  RSS after malloc_trim(0) at the end: %.1f MiB (%+.2f %% against the start)" % (
        rss_trim / 1024, (rss_trim - rss0) * 100.0 / rss0))
print("  file descriptors: %d -> %d; threads: %d -> %d" % (fd0, fd1, th0, th1))
print("  RSS every 30 s (MiB): " + " ".join("%.1f" % (int(s[1]) / 1024) for s in samples))
print("  fds every 30 s: " + " ".join(s[2] for s in samples))
print("  Prometheus restarts at: %s s" % ", ".join(e[0] for e in events if e[1] == "restart"))
print("  seconds with calls piling up (< half the rate answered, or p99 > 100 ms): %d%s" % (
    len(slow), (": " + ", ".join("t=%.0f (%d calls, p99 %.0f ms, %d in flight)" % (
        p["t"], p["interval_calls"], p["interval_p99_us"] / 1000, p["inflight"]) for p in slow[:12])) if slow else ""))
print("  result: %s" % ("all targets met" if ok else "MISSED"))
sys.exit(0 if ok else 1)
EOF
