#!/usr/bin/env bash
# analyze_cli: `saturation-scaler analyze` end to end.
#
# usage: analyze_cli.sh <saturation-scaler binary> <source dir>
#
# Every examples/analyze/*.json must exit 0 with one JSON document on stdout
# and nothing on stderr; the examples the README describes must also give
# the decision it promises. Bad input must exit 2 with nothing on stdout and
# exactly one line on stderr. Also checks the dispatch around it: an unknown
# subcommand, version and help (serve has its own tests).
set -euo pipefail
bin=$1
src=$2
py=${SAT_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# What each example must decide (a Python expression over the output d).
declare -A expect=(
    [saturated-single.json]='d["shouldScaleUp"] and d["targets"] == {"granite-a100": 2}'
    [boundary-070.json]='not d["shouldScaleUp"] and d["targets"] == {"default": 1}'
    [hidden-hot-replica.json]='not d["shouldScaleUp"] and d["scaleDownSafe"] and d["targets"] == {"default": 4}'
    [multi-variant.json]='d["shouldScaleUp"] and d["targets"] == {"llama-h100": 2, "llama-a100": 3}'
    [beyond-10.json]='d["shouldScaleUp"] and d["targets"] == {"granite": 12}'
    [scale-down-two.json]='d["targets"] == {"default": 8}'
)

n=0
for f in "$src"/examples/analyze/*.json; do
    name=$(basename "$f")
    n=$((n + 1))
    rc=0
    "$bin" analyze <"$f" >"$tmp/out" 2>"$tmp/err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "$name: exit $rc: $(cat "$tmp/err")"
        continue
    fi
    [ -s "$tmp/err" ] && fail "$name: stderr not empty: $(cat "$tmp/err")"
    [ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "$name: output is not one line ending in a newline"
    if ! "$py" -c 'import json,sys; json.load(sys.stdin)' <"$tmp/out"; then
        fail "$name: output is not JSON"
        continue
    fi
    if [ -n "${expect[$name]:-}" ] &&
        ! "$py" -c 'import json,sys; d = json.load(sys.stdin); sys.exit(0 if ('"${expect[$name]}"') else 1)' <"$tmp/out"; then
        fail "$name: expected ${expect[$name]}, got $(cat "$tmp/out")"
    fi
done
[ "$n" -ge 4 ] || fail "only $n examples in $src/examples/analyze"

# check_bad <label> <expected exit> <stderr must contain> <command...>: stdin
# comes from the caller; stdout must stay empty, stderr be exactly one line.
check_bad() {
    local label=$1 want_rc=$2 want_msg=$3 rc=0
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" -eq "$want_rc" ] || fail "$label: exit $rc, want $want_rc"
    [ -s "$tmp/out" ] && fail "$label: stdout not empty: $(cat "$tmp/out")"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] && [ -z "$(tail -c 1 "$tmp/err" | tr -d '\n')" ] ||
        fail "$label: stderr is not exactly one line: $(cat "$tmp/err")"
    grep -qF -- "$want_msg" "$tmp/err" || fail "$label: stderr lacks '$want_msg': $(cat "$tmp/err")"
}

bad() {
    local label=$1 json=$2 want=$3
    printf '%s' "$json" >"$tmp/in"
    check_bad "$label" 2 "saturation-scaler analyze: $want" "$bin" analyze <"$tmp/in"
}

bad "not JSON" 'not json' 'invalid JSON near byte 0'
bad "empty input" '' 'invalid JSON: empty document'
bad "root not an object" '[1]' 'document: must be a JSON object'
bad "negative kv" '{"replicas":[{"pod":"a","kv":0},{"pod":"b","kv":0},{"pod":"c","kv":-0.5}]}' \
    'replicas[2].kv: must be a number >= 0, got -0.5'
bad "bad threshold" '{"config":{"kvCacheThreshold":1.5},"replicas":[]}' \
    'config.kvCacheThreshold must be in (0, 1], got 1.5'
bad "replicas and analysis" '{"replicas":[],"analysis":{}}' 'replicas and analysis'
bad "newline in a pod name" '{"replicas":[{"pod":"a\nb","kv":0},{"pod":"a\nb","kv":0}]}' \
    'replicas[1].pod: duplicate pod "a\x0ab"'

check_bad "input over 64 MiB" 2 "exceeds 64 MiB" \
    bash -c 'head -c $((64 * 1024 * 1024 + 1)) /dev/zero | "$0" analyze' "$bin"
check_bad "argument to analyze" 2 'unexpected argument' "$bin" analyze extra </dev/null
check_bad "unknown command" 2 'unknown command "frobnicate"' "$bin" frobnicate

for v in version --version; do
    out=$("$bin" "$v") || fail "$v: exit $?"
    [[ $out =~ ^saturation-scaler\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "$v: printed '$out'"
done
for h in help --help; do
    out=$("$bin" "$h") || fail "$h: exit $?"
    for c in serve analyze help version; do
        grep -qw -- "$c" <<<"$out" || fail "$h: does not list $c"
    done
done

if [ "$failures" -ne 0 ]; then
    echo "analyze_cli: $failures failure(s)" >&2
    exit 1
fi
echo "analyze_cli: $n examples and every bad input behaved"
