#!/usr/bin/env bash
# THE test command: ./test/run.sh
# Installs what is missing (apt-get when root), builds, runs every ctest test,
# then rebuilds with AddressSanitizer + UndefinedBehaviorSanitizer and runs the
# unit tests again. Build trees: build/ and build-asan/ (override with
# SAT_BUILD_DIR / SAT_ASAN_BUILD_DIR). Extra ctest arguments pass through,
# e.g. ./test/run.sh -L unit
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

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
    echo "test/run.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "test/run.sh: missing packages; run as root or install them:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
build=${SAT_BUILD_DIR:-build}
asan=${SAT_ASAN_BUILD_DIR:-build-asan}

echo "== build ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$jobs"
echo "== ctest ($build)"
(cd "$build" && ctest --output-on-failure -j "$jobs" "$@")

echo "== build with ASan+UBSan ($asan)"
cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=Debug -DSAT_SANITIZE=ON >/dev/null
cmake --build "$asan" -j "$jobs"
# Unit tests, and the gRPC integration tests against the sanitized server
# (the stream-leak test asserts only there: LeakSanitizer runs at its exit).
echo "== unit and gRPC integration tests under ASan+UBSan"
(cd "$asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j "$jobs" -L 'unit|integration')
echo "test/run.sh: all passed"
