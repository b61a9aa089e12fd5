#!/usr/bin/env bash
# Build the grpc-go peer (test/bench/peer/main.go) in GOPATH mode from
# Debian's packages only: golang-go, golang-google-grpc-dev,
# golang-google-protobuf-dev, golang-github-golang-protobuf-1-5-dev,
# protoc-gen-go and protoc-gen-go-grpc (grpc-go 1.33). Nothing is
# downloaded: GO111MODULE=off, GOPROXY=off, GOPATH=/usr/share/gocode:<work>.
#
# Usage: test/bench/peer/build.sh OUT_DIR   -> OUT_DIR/peer
# Generated code goes into OUT_DIR/gopath (the build tree), never the source.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

need=()
command -v go >/dev/null || need+=(golang-go)
command -v protoc >/dev/null || need+=(protobuf-compiler)
command -v protoc-gen-go >/dev/null || need+=(protoc-gen-go)
command -v protoc-gen-go-grpc >/dev/null || need+=(protoc-gen-go-grpc)
[ -d /usr/share/gocode/src/google.golang.org/grpc ] || need+=(golang-google-grpc-dev)
[ -d /usr/share/gocode/src/google.golang.org/protobuf ] || need+=(golang-google-protobuf-dev)
[ -d /usr/share/gocode/src/github.com/golang/protobuf/proto ] || need+=(golang-github-golang-protobuf-1-5-dev)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "peer: missing packages; run: sudo apt-get install ${need[*]}" >&2
        exit 3
    fi
fi

gp="$out/gopath"
pkg="$gp/src/satbench/peer"
rm -rf "$pkg"
mkdir -p "$pkg"
cp "$here/main.go" "$pkg/"
# The proto's go_package is ".;externalscaler"; the M option puts the
# generated code into this package main instead.
protoc --proto_path="$src/proto" \
    --go_out="$pkg" --go_opt=paths=source_relative \
    --go_opt="Mexternalscaler.proto=satbench/peer;main" \
    --go-grpc_out="$pkg" --go-grpc_opt=paths=source_relative \
    --go-grpc_opt="Mexternalscaler.proto=satbench/peer;main" \
    "$src/proto/externalscaler.proto"

export GO111MODULE=off GOPROXY=off GOFLAGS='' GOPATH="/usr/share/gocode:$gp"
export GOCACHE="$out/gocache"
(cd "$pkg" && go build -o "$out/peer" .)
echo "$out/peer"
