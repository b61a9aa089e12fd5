#!/usr/bin/env bash
# The benchmark (not run by CI): saturation-scaler against a minimal grpc-go
# ExternalScaler (test/bench/peer), measured with the same client
# (test/bench/loadgen), the server pinned to CPU 0 and the client to CPU 1,
# runs alternated A B A B. Prints one table (test/bench/report.py).
#
#   1. cached GetMetrics / IsActive at C = 1, 16, 64: calls/s, p50/p99/p99.9,
#      server CPU per call (utime+stime from /proc over the measured window)
#   2. the KEDA cycle (GetMetricSpec + GetMetrics + IsActive) for 10k
#      ScaledObjects at 3k cycles/s (open loop) for 60 s
#   3. RSS: idle, with 10k ScaledObjects known, with 10k open streams
#   4. refresh cost: parse + table + analysis of a Prometheus answer
#      (test/bench/refresh_bench) for 1k, 10k, 100k series
#   5. push latency with 10k StreamIsActive streams (metrics-file flips)
#   6. Prometheus queries per refresh interval for 10, 100, 1000
#      ScaledObjects (a real Prometheus scraping vllm-sim)
#
# Usage: test/bench/run.sh [--quick] [--items 1,2,3,4,5,6] [--reps N]
#                          [--connections K] [--nice N | --rt] [--build-dir DIR] [--out DIR]
#   --quick   short runs (seconds, 1k objects/streams) to try the harness
#   --nice    run the servers and the client at this nice value (e.g. -10,
#             as root) so that other work on a shared machine disturbs less
#   --rt      run them SCHED_FIFO (chrt -f 10, root): other work can no longer
#             delay them, so latencies are the servers' own. Closed-loop runs
#             then keep both CPUs busy for seconds: only on a machine you may
#             take over
#   --out     where results.jsonl, table.md and the logs go
#             (default: BUILD_DIR/bench-results)
# Needs root for apt-get when packages are missing (golang-go, grpc-go,
# prometheus); otherwise prints the apt-get line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

QUICK=0
ITEMS=1,2,3,4,5,6
REPS=2
CONNS=1
BUILD_DIR=$BENCH_SRC/build-bench
OUT=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --items) ITEMS=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --connections) CONNS=$2; shift ;;
    --nice) NICE=$2; shift ;;
    --rt) RT=1 ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
    esac
    shift
done
has() { [[ ",$ITEMS," == *",$1,"* ]]; }
prio_init # after --nice / --rt

mkdir -p "$BUILD_DIR"
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
OUT=${OUT:-$BUILD_DIR/bench-results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RES=$OUT/results.jsonl
: >"$RES"
NO_PEER=0
bench_build
pick_cpus

if [ $QUICK = 1 ]; then
    DUR=2 WARM=0.5 OBJS=1000 RATE=1000 CYCLE_DUR=5 STREAMS=1000 FLIPS=4 PROM_WIN=8 PROM_NS="10 100"
else
    DUR=5 WARM=1 OBJS=10000 RATE=3000 CYCLE_DUR=60 STREAMS=10000 FLIPS=10 PROM_WIN=20 PROM_NS="10 100 1000"
fi
REFRESH=2 # seconds, item 6

machine_json >>"$RES"
log "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "{\"label\":\"config\",\"quick\":$QUICK,\"reps\":$REPS,\"connections\":$CONNS,\"server_cpu\":$SERVER_CPU,\"client_cpu\":$CLIENT_CPU,\"nice\":$NICE,\"rt\":$RT,\"objects\":$OBJS,\"rate\":$RATE,\"cycle_duration\":$CYCLE_DUR,\"streams\":$STREAMS,\"flips\":$FLIPS,\"refresh_s\":$REFRESH}" >>"$RES"

lg() { "${PRIO[@]}" taskset -c "$CLIENT_CPU" "$LOADGEN" --cpus "$SERVER_CPU,$CLIENT_CPU" "$@"; }

# ---- 1. cached GetMetrics / IsActive -----------------------------------------
if has 1; then
    log "item 1: cached GetMetrics / IsActive, C = 1 16 64, $REPS x (us, peer), ${DUR}s each"
    "$LOADGEN" --gen-metrics "$OUT/m100.json" --models 100 --pods 4
    start_scaler "$OUT/scaler-1.log" "$SERVER_CPU" --http-listen off --metrics-file "$OUT/m100.json"
    start_peer "$OUT/peer-1.log" "$SERVER_CPU"
    for method in GetMetrics IsActive; do
        for c in 1 16 64; do
            for rep in $(seq "$REPS"); do
                for who in us peer; do
                    if [ $who = us ]; then port=$SCALER_PORT pid=$SCALER_PID; else port=$PEER_PORT pid=$PEER_PID; fi
                    lg --target "127.0.0.1:$port" --mode unary --method $method --concurrency $c \
                        --connections "$CONNS" --objects 100 --duration $DUR --warmup $WARM \
                        --server-pid $pid --label "i1 $who $method $c $rep" >>"$RES"
                done
            done
            log "  $method C=$c done"
        done
    done
    stop_pid "$SCALER_PID"
    stop_pid "$PEER_PID"
fi

# ---- 2, 3, 5: one scaler with 10k ScaledObjects ----------------------------------
if has 2 || has 3 || has 5; then
    "$LOADGEN" --gen-metrics "$OUT/mA.json" --models "$OBJS" --pods 4
    "$LOADGEN" --gen-metrics "$OUT/mB.json" --models "$OBJS" --pods 4 --empty
    cp "$OUT/mA.json" "$OUT/mcur.json"

    # idle: the smallest table, nothing asked yet
    start_scaler "$OUT/scaler-idle.log" "$SERVER_CPU" --http-listen 127.0.0.1:0 \
        --metrics-file "$BENCH_SRC/examples/metrics/saturated.json"
    sleep 2
    echo "{\"label\":\"rss idle us\",\"rss_kb\":$(rss_kb "$SCALER_PID"),\"anon_kb\":$(anon_kb "$SCALER_PID"),\"threads\":$(threads_of "$SCALER_PID")}" >>"$RES"
    stop_pid "$SCALER_PID"
    start_peer "$OUT/peer-idle.log" "$SERVER_CPU"
    sleep 1
    echo "{\"label\":\"rss idle peer\",\"rss_kb\":$(rss_kb "$PEER_PID"),\"anon_kb\":$(anon_kb "$PEER_PID"),\"threads\":$(threads_of "$PEER_PID")}" >>"$RES"

    start_scaler "$OUT/scaler-10k.log" "$SERVER_CPU" --http-listen 127.0.0.1:0 --metrics-file "$OUT/mcur.json"
    sleep 2
    echo "{\"label\":\"rss table us\",\"rss_kb\":$(rss_kb "$SCALER_PID"),\"anon_kb\":$(anon_kb "$SCALER_PID")}" >>"$RES"

    if has 2; then
        for who in us peer; do
            if [ $who = us ]; then port=$SCALER_PORT pid=$SCALER_PID; else port=$PEER_PORT pid=$PEER_PID; fi
            log "item 2: KEDA cycle, $OBJS ScaledObjects, $RATE cycles/s, ${CYCLE_DUR}s ($who)"
            lg --target "127.0.0.1:$port" --mode cycle --rate $RATE --objects "$OBJS" \
                --duration $CYCLE_DUR --warmup 2 --server-pid $pid --connections "$CONNS" \
                --label "i2 $who" >>"$RES"
        done
    else
        # item 3 still wants 10k ScaledObjects known: one pass over them
        lg --target "127.0.0.1:$SCALER_PORT" --mode cycle --concurrency 16 --objects "$OBJS" \
            --duration $((OBJS / 2000 + 2)) --warmup 0 --label "i3 warm" >/dev/null
    fi
    echo "{\"label\":\"rss known us\",\"rss_kb\":$(rss_kb "$SCALER_PID"),\"anon_kb\":$(anon_kb "$SCALER_PID")}" >>"$RES"
    echo "{\"label\":\"rss known peer\",\"rss_kb\":$(rss_kb "$PEER_PID"),\"anon_kb\":$(anon_kb "$PEER_PID")}" >>"$RES"

    if has 3 || has 5; then
        for who in us peer; do
            if [ $who = us ]; then
                port=$SCALER_PORT pid=$SCALER_PID flips=$FLIPS
                has 5 || flips=0
                log "items 3+5: $STREAMS streams, $flips metrics-file flips ($who)"
            else
                port=$PEER_PORT pid=$PEER_PID flips=0
                log "item 3: $STREAMS streams (peer, for comparison)"
            fi
            before=$(rss_kb "$pid")
            : >"$OUT/streams-$who.out"
            lg --target "127.0.0.1:$port" --mode streams --streams "$STREAMS" --objects "$OBJS" \
                --flips $flips --flip-file "$OUT/mcur.json" --flip-a "$OUT/mA.json" \
                --flip-b "$OUT/mB.json" --hold 3 --flip-timeout 20 --connections "$CONNS" --stream-queues 8 \
                --label "i5 $who" >"$OUT/streams-$who.out" &
            lpid=$!
            BENCH_PIDS+=("$lpid")
            wait_log "$OUT/streams-$who.out" '^OPEN' 180 || die "streams did not open"
            sleep 2
            rss=$(rss_kb "$pid")
            echo "{\"label\":\"rss streams $who\",\"streams\":$STREAMS,\"before_kb\":$before,\"rss_kb\":$rss,\"anon_kb\":$(anon_kb "$pid"),\"fds\":$(fd_count "$pid"),\"open\":\"$(grep '^OPEN' "$OUT/streams-$who.out")\"}" >>"$RES"
            wait "$lpid" || die "loadgen (streams) failed"
            grep '^{' "$OUT/streams-$who.out" >>"$RES"
            sleep 2
            echo "{\"label\":\"rss after-streams $who\",\"rss_kb\":$(rss_kb "$pid"),\"anon_kb\":$(anon_kb "$pid")}" >>"$RES"
        done
    fi
    stop_pid "$SCALER_PID"
    stop_pid "$PEER_PID"
fi

# ---- 4. refresh cost ------------------------------------------------------------
if has 4; then
    log "item 4: refresh cost (1k, 10k, 100k series)"
    taskset -c "$SERVER_CPU" "$REFRESH_BENCH" --json --reps 3 | sed 's/^{/{"label":"i4",/' >>"$RES"
fi

# ---- 6. Prometheus load -------------------------------------------------------
if has 6; then
    log "item 6: Prometheus queries per refresh (${REFRESH}s) for $PROM_NS ScaledObjects"
    maxn=0
    for n in $PROM_NS; do [ "$n" -gt $maxn ] && maxn=$n; done
    sim_with_prom "$OUT" $maxn
    for n in $PROM_NS; do
        start_scaler "$OUT/scaler-prom-$n.log" "$SERVER_CPU" --http-listen off \
            --prometheus-url "http://127.0.0.1:$PROM_PORT" --refresh-interval ${REFRESH}s
        rate=$((n / 3))
        [ $rate -ge 10 ] || rate=10
        warm=8
        lg --target "127.0.0.1:$SCALER_PORT" --mode cycle --rate $rate --objects "$n" \
            --duration "$PROM_WIN" --warmup $warm --label "i6 load $n" >"$OUT/prom-load-$n.json" &
        lpid=$!
        BENCH_PIDS+=("$lpid")
        sleep $warm
        q0=$(prom_queries "$PROM_PORT")
        t0=$(date +%s.%N)
        sleep "$PROM_WIN"
        q1=$(prom_queries "$PROM_PORT")
        t1=$(date +%s.%N)
        wait "$lpid" || true
        echo "{\"label\":\"i6\",\"objects\":$n,\"queries\":$((q1 - q0)),\"seconds\":$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}'),\"refresh_s\":$REFRESH,\"load\":$(cat "$OUT/prom-load-$n.json")}" >>"$RES"
        stop_pid "$SCALER_PID"
    done
    stop_pid "$PROM_PID"
    stop_pid "$SIM_PID"
fi

"$PYTHON" "$BENCH_SRC/test/bench/report.py" "$RES" | tee "$OUT/table.md"
log "results: $RES; table: $OUT/table.md"
