# shellcheck shell=bash disable=SC2034
# (variables set here are used by the scripts that source this file)
# Helpers shared by test/bench/run.sh and test/bench/soak.sh (sourced).
#
# Every process started here is recorded in BENCH_PIDS and killed, by its
# own pid, when the script exits. Everything listens on 127.0.0.1 only.

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_PIDS=()
NICE=${NICE:-0} # run.sh --nice N: nice value for the servers and the client
RT=${RT:-0}     # run.sh --rt: SCHED_FIFO (chrt -f 10) for the servers and the client

# The priority prefix for the servers and the client (a command prefix, so
# that "${PRIO[@]}" cmd & leaves $! the pid of cmd itself: both exec).
prio_init() {
    if [ "$RT" = 1 ]; then
        PRIO=(chrt -f 10)
    else
        PRIO=(nice -n "$NICE")
    fi
}
prio_init
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3

bench_cleanup() {
    local p
    for p in "${BENCH_PIDS[@]}"; do
        kill -CONT "$p" 2>/dev/null || true
        kill "$p" 2>/dev/null || true
    done
    for p in "${BENCH_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    BENCH_PIDS=()
}

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Stop one process we started (SIGTERM, then SIGKILL after 10 s).
stop_pid() {
    local p=$1 i
    kill "$p" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Wait until file $1 matches regex $2 (grep -E), at most $3 seconds.
wait_log() {
    local f=$1 re=$2 t=${3:-30} i
    for i in $(seq $((t * 10))); do
        grep -qE "$re" "$f" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
anon_kb() { awk '/^RssAnon:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
threads_of() { awk '/^Threads:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# start_scaler LOGFILE CPU ARGS... -> SCALER_PID, SCALER_PORT
start_scaler() {
    local logf=$1 cpu=$2
    shift 2
    : >"$logf"
    "${PRIO[@]}" taskset -c "$cpu" "$SCALER" serve --listen 127.0.0.1:0 "$@" 2>>"$logf" &
    SCALER_PID=$!
    BENCH_PIDS+=("$SCALER_PID")
    wait_log "$logf" '"serving on|msg="serving on' 30 || die "scaler did not start: $(tail -5 "$logf")"
    SCALER_PORT=$(grep -oE 'serving on [^ ]+ \(port [0-9]+' "$logf" | head -1 | grep -oE '[0-9]+$')
    [ -n "$SCALER_PORT" ] || die "no port in the scaler's log"
}

# start_peer LOGFILE CPU -> PEER_PID, PEER_PORT
start_peer() {
    local logf=$1 cpu=$2
    : >"$logf"
    "${PRIO[@]}" taskset -c "$cpu" "$PEER" --listen 127.0.0.1:0 >"$logf" 2>&1 &
    PEER_PID=$!
    BENCH_PIDS+=("$PEER_PID")
    wait_log "$logf" '^listening on' 30 || die "peer did not start: $(tail -5 "$logf")"
    PEER_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$logf" | head -1)
}

# start_sim LOGFILE -> SIM_PID, SIM_URL
start_sim() {
    local logf=$1
    : >"$logf"
    "$VLLM_SIM" --listen 127.0.0.1:0 >"$logf.out" 2>"$logf" &
    SIM_PID=$!
    BENCH_PIDS+=("$SIM_PID")
    wait_log "$logf.out" '^listening on' 10 || die "vllm-sim did not start: $(tail -5 "$logf")"
    SIM_URL="http://$(sed -n 's/^listening on //p' "$logf.out" | head -1)"
}

# prom_config DIR SIM_HOSTPORT: write DIR/prometheus.yml (scrape every 1s,
# honor_labels, as test/integration/promstack.py does)
prom_config() {
    local dir=$1 target=$2
    mkdir -p "$dir/data"
    cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: vllm-sim
    honor_labels: true
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['$target']
EOF
}

# start_prom DIR PORT -> PROM_PID (waits for /-/ready)
start_prom() {
    local dir=$1 port=$2 i
    /usr/bin/prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address="127.0.0.1:$port" --log.level=warn >>"$dir/prometheus.log" 2>&1 &
    PROM_PID=$!
    BENCH_PIDS+=("$PROM_PID")
    for i in $(seq 300); do
        curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && return 0
        kill -0 "$PROM_PID" 2>/dev/null || die "prometheus exited: $(tail -5 "$dir/prometheus.log")"
        sleep 0.1
    done
    die "prometheus not ready in 30 s"
}

# prom_queries PORT: prometheus_http_requests_total{handler="/api/v1/query"}
# summed over codes, from Prometheus' own /metrics (reading it costs no query).
prom_queries() {
    curl -fs "http://127.0.0.1:$1/metrics" |
        awk '/^prometheus_http_requests_total\{/ && /handler="\/api\/v1\/query"/ {s+=$NF} END{printf "%d\n", s}'
}

# prom_count PORT EXPR: the value of a scalar-ish instant query (count(...)).
prom_value() {
    curl -fs "http://127.0.0.1:$1/api/v1/query" --data-urlencode "query=$2" |
        "$PYTHON" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'
}

# sim_with_prom OUT MODELS: vllm-sim serving MODELS models x 2 pods, and a
# Prometheus scraping it (OUT/prom), up once it holds every pod's series.
# -> SIM_URL, PROM_PORT, PROM_PID
sim_with_prom() {
    local out=$1 models=$2 v
    start_sim "$out/sim.log"
    "$LOADGEN" --gen-metrics "$out/sim-pods.json" --models "$models" --pods 2
    curl -fs "$SIM_URL/pods" --data-binary @"$out/sim-pods.json" >/dev/null || die "POST /pods failed"
    PROM_PORT=$(free_port)
    rm -rf "$out/prom"
    prom_config "$out/prom" "${SIM_URL#http://}"
    start_prom "$out/prom" "$PROM_PORT"
    for _ in $(seq 300); do
        v=$(prom_value "$PROM_PORT" 'count(vllm:kv_cache_usage_perc)' 2>/dev/null || echo 0)
        [ "${v%.*}" -ge $((models * 2)) ] && return 0
        sleep 0.2
    done
    log "warning: Prometheus holds ${v%.*} of $((models * 2)) series after 60 s"
}

machine_json() {
    "$PYTHON" - <<'EOF'
import json, os, platform, subprocess
info = {}
for line in open("/proc/cpuinfo"):
    if ":" in line:
        k, v = [x.strip() for x in line.split(":", 1)]
        info.setdefault(k, v)
load = open("/proc/loadavg").read().split()[:3]
mem = 0
for line in open("/proc/meminfo"):
    if line.startswith("MemTotal:"):
        mem = int(line.split()[1]) // 1024
hyp = ""
try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
    for line in out.splitlines():
        if line.startswith("Hypervisor vendor:"):
            hyp = line.split(":", 1)[1].strip()
except Exception:
    pass
print(json.dumps({"label": "machine", "nproc": os.cpu_count(), "cpu_model": info.get("model name", "?"),
                  "cpu_family": info.get("cpu family", "?"), "cpu_mhz": info.get("cpu MHz", "?"),
                  "hypervisor": hyp, "kernel": platform.release(), "mem_mib": mem,
                  "loadavg": " ".join(load)}))
EOF
}

# Pick the CPUs: server on 0, client on 1 (one CPU: both on 0, said so).
pick_cpus() {
    if [ "$(nproc)" -ge 2 ]; then
        SERVER_CPU=0
        CLIENT_CPU=1
    else
        SERVER_CPU=0
        CLIENT_CPU=0
        log "warning: one CPU: server and client share it"
    fi
}

# Build the scaler, loadgen, refresh_bench, vllm-sim (and the peer unless
# NO_PEER=1) into $BUILD_DIR.
bench_build() {
    local need=()
    command -v cmake >/dev/null || need+=(cmake)
    command -v taskset >/dev/null || need+=(util-linux)
    command -v curl >/dev/null || need+=(curl)
    [ -x /usr/bin/prometheus ] || need+=(prometheus)
    if [ ${#need[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
        else
            die "missing: sudo apt-get install ${need[*]}"
        fi
    fi
    log "building into $BUILD_DIR"
    cmake -S "$BENCH_SRC" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSAT_BUILD_TESTS=ON -DSAT_BUILD_BENCH=ON \
        >"$BUILD_DIR.cmake.log" 2>&1 || { mkdir -p "$BUILD_DIR"; die "cmake failed: $(tail -20 "$BUILD_DIR.cmake.log")"; }
    local targets
    targets=$(cmake --build "$BUILD_DIR" --target help 2>/dev/null || true)
    if [[ "$targets" != *loadgen* ]]; then
        die "no loadgen target in $BUILD_DIR: the top-level CMakeLists.txt must add_subdirectory(test/bench) (option SAT_BUILD_BENCH)"
    fi
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target saturation-scaler loadgen refresh_bench vllm-sim \
        >"$BUILD_DIR.build.log" 2>&1 || die "build failed: $(tail -20 "$BUILD_DIR.build.log")"
    SCALER=$BUILD_DIR/saturation-scaler
    LOADGEN=$BUILD_DIR/test/bench/loadgen
    REFRESH_BENCH=$BUILD_DIR/test/bench/refresh_bench
    VLLM_SIM=$BUILD_DIR/examples/vllm-sim/vllm-sim
    if [ "${NO_PEER:-0}" != 1 ]; then
        "$BENCH_SRC/test/bench/peer/build.sh" "$BUILD_DIR/bench-peer" >/dev/null ||
            die "the grpc-go peer did not build"
        PEER=$BUILD_DIR/bench-peer/peer
    fi
}
