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

build=${SAT_BUILD_DIR:-build}
case "$build" in /*) ;; *) build="$top/$build" ;; esac

# The same install-and-build script as ./test/run.sh (one package list).
echo "demo: building into $build" >&2
./test/build.sh "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2

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
