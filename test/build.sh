#!/usr/bin/env bash
# Install what the build needs and build: ./test/build.sh [BUILD_DIR] [cmake args...]
# One script, two callers: test/run.sh (with the test dependencies) and the
# Dockerfile's build stage (SAT_DEPS=build: only what compiling needs).
# Installs with apt-get when root; otherwise prints the exact apt-get line
# and fails.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
shift || true

build_packages=(build-essential cmake pkg-config libgrpc-dev libprotobuf-c-dev protobuf-c-compiler
                libcurl4-openssl-dev libcjson-dev grpc-proto protobuf-compiler libprotobuf-dev
                libmicrohttpd-dev)
test_packages=(libcmocka-dev python3 python3-grpcio python3-protobuf python3-yaml openssl prometheus curl
               golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev
               procps)
packages=("${build_packages[@]}")
[ "${SAT_DEPS:-all}" = build ] || packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test/build.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "test/build.sh: missing packages; run as root or install them:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
cd "$top"
echo "== build ($build)"
cmake -S . -B "$build" "$@" >/dev/null
cmake --build "$build" -j "$jobs"
