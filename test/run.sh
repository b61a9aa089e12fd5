#!/usr/bin/env bash
# THE test command: ./test/run.sh
# Installs what is missing (apt-get when root, through test/build.sh),
# builds, runs every ctest test, then rebuilds with AddressSanitizer +
# UndefinedBehaviorSanitizer and runs the unit and gRPC integration tests
# there too. Build trees: build/ and build-asan/ (override with
# SAT_BUILD_DIR / SAT_ASAN_BUILD_DIR). Extra ctest arguments pass through,
# e.g. ./test/run.sh -L unit
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

jobs=$(nproc 2>/dev/null || echo 2)
build=${SAT_BUILD_DIR:-build}
asan=${SAT_ASAN_BUILD_DIR:-build-asan}

./test/build.sh "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== ctest ($build)"
(cd "$build" && ctest --output-on-failure -j "$jobs" "$@")

./test/build.sh "$asan" -DCMAKE_BUILD_TYPE=Debug -DSAT_SANITIZE=ON
# Unit tests, and the gRPC integration tests against the sanitized server
# (the stream-leak test asserts only there: LeakSanitizer runs at its exit).
echo "== unit and gRPC integration tests under ASan+UBSan"
(cd "$asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j "$jobs" -R '^(test_|grpc_|fuzz_replay_)')
echo "test/run.sh: all passed"
