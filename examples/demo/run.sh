#!/usr/bin/env bash
# The demo: ./examples/demo/run.sh [--scenario NAME] [demo.py flags...]
#
# Installs the Debian packages that are missing (apt-get when root; otherwise
# it prints the apt-get line and stops), builds into build/ (SAT_BUILD_DIR
# overrides), then runs examples/demo/demo.py with Debian's /usr/bin/python3:
# vllm-sim, a real Prometheus, saturation-scaler and a KEDA + HPA loop, all
# on 127.0.0.1. Everything it starts lives in one temp dir, removed at exit;
# every process it started is stopped at exit, Ctrl-C included.
#
#   ./examples/demo/run.sh                        # the ladder, real 15 s periods
#   ./examples/demo/run.sh --scenario outage      # ladder, blind-spot, scale-down,
#                                                 # beyond-10, outage, from-zero
#   ./examples/demo/run.sh --compressed           # the tests' 1 s clock
#   ./examples/demo/run.sh --help                 # every flag
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

# The same list as test/run.sh.
packages=(build-essential cmake pkg-config libgrpc-dev libprotobuf-c-dev protobuf-c-compiler
          libcurl4-openssl-dev libcjson-dev libcmocka-dev grpc-proto protobuf-compiler
          libprotobuf-dev python3 python3-grpcio python3-protobuf openssl prometheus
          libmicrohttpd-dev curl procps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "demo: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "demo: missing packages; run as root or install them:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
build=${SAT_BUILD_DIR:-build}
case "$build" in /*) ;; *) build="$top/$build" ;; esac

echo "demo: building into $build" >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$jobs" --target saturation-scaler vllm-sim >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/saturation-demo.XXXXXX")
cleanup() {
  local rc=$? f pid name
  # demo.py stops what it started; this catches anything left behind (a
  # killed demo.py). Each pid file names its program: check before killing.
  for f in "$work"/pids/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    name=$(basename "$f" .pid)
    case "$pid" in ''|*[!0-9]*) continue ;; esac
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
      done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SAT_BINARY="$build/saturation-scaler" \
SAT_VLLM_SIM="$build/examples/vllm-sim/vllm-sim" \
SAT_PY_GEN="$build/py" \
  /usr/bin/python3 "$top/examples/demo/demo.py" --workdir "$work" "$@"
