#!/usr/bin/env bash
# Fuzz the parsers with libFuzzer: test/fuzz/run.sh [SECONDS] [TARGETS...]
#
# SECONDS is the time per target (default 600); TARGETS default to every
# target in test/fuzz/CMakeLists.txt (SAT_FUZZ_TARGETS). Steps:
# 1. Install clang-14, libclang-rt-14-dev and llvm-14 (llvm-cov) when
#    missing (apt-get when root, else print the apt-get line and stop). The
#    other build dependencies are test/build.sh's; run it first on a bare
#    machine.
# 2. Configure build-fuzz/ (override with SAT_FUZZ_BUILD_DIR) with CC=clang-14,
#    the library instrumented (-fsanitize=fuzzer-no-link plus SAT_SANITIZE's
#    address,undefined with -fno-sanitize-recover=all) and SAT_FUZZ=ON, and
#    build only the fuzz_<name> binaries.
# 3. Run the targets two at a time (SAT_FUZZ_JOBS), each for SECONDS, in
#    libFuzzer's fork mode with -ignore_crashes=1, so one finding does not
#    end the run and every crash/leak/timeout input is kept. New inputs go
#    to build-fuzz/corpus-<name>/ (the committed seeds in
#    test/fuzz/corpus/<name>/ are read, never written); findings go to
#    build-fuzz/artifacts-<name>/; the log to build-fuzz/fuzz-<name>.log.
# 4. Measure the final corpus: libFuzzer's cov (edges) and ft (features)
#    from a -runs=0 pass, and llvm-cov line coverage of each target's own
#    modules from a coverage build of the replay binaries (build-fuzz-cov/).
# 5. Print a summary table: runs, seconds, execs/s, cov of edges
#    (instrumented), ft, corpus size, lines, findings; then the path of every
#    finding. Exit status 1 when there is one.
#
# SAT_FUZZ_SKIP (comma-separated substrings of invariant messages, see
# test/fuzz/fuzz_util.h) lets a long run go past a finding already recorded
# in test/fuzz/regressions/; sanitizer reports are never skipped.
#
# A finding is replayed with the gcc build too: copy it into
# test/fuzz/regressions/<name>/ and `ctest -R fuzz_replay_<name>`.
# To reproduce one under libFuzzer: build-fuzz/test/fuzz/fuzz_<name> FILE.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

secs=${1:-600}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
  echo "usage: test/fuzz/run.sh [SECONDS] [TARGETS...]" >&2
  exit 2
fi
shift || true
all_targets=$(sed -n 's/^set(SAT_FUZZ_TARGETS \(.*\))$/\1/p' test/fuzz/CMakeLists.txt)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<<"$all_targets"
for t in "${targets[@]}"; do
  case " $all_targets " in
    *" $t "*) ;;
    *) echo "test/fuzz/run.sh: unknown target '$t' (known: $all_targets)" >&2; exit 2 ;;
  esac
done
build=${SAT_FUZZ_BUILD_DIR:-build-fuzz}
parallel=${SAT_FUZZ_JOBS:-2}

# ---- 1. the toolchain -------------------------------------------------------
missing=()
for p in clang-14 libclang-rt-14-dev llvm-14; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test/fuzz/run.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "test/fuzz/run.sh: missing packages; run as root or install them:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# ---- 2. the build -------------------------------------------------------------
echo "== build ($build, clang-14, libFuzzer + ASan + UBSan)"
CC=clang-14 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-g -O2" \
  "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link" -DSAT_SANITIZE=ON -DSAT_FUZZ=ON \
  -DSAT_BUILD_TESTS=ON >/dev/null || {
  echo "test/fuzz/run.sh: cmake failed; on a bare machine run ./test/build.sh first" >&2
  exit 1
}
bins=()
for t in "${targets[@]}"; do bins+=("fuzz_$t"); done
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target "${bins[@]}"

# ---- 3. the runs ----------------------------------------------------------------
run_one() {
  local t=$1 dict=()
  local corpus="$build/corpus-$t" art="$build/artifacts-$t/" log="$build/fuzz-$t.log"
  mkdir -p "$corpus" "$art"
  [ -f "test/fuzz/dict/$t.dict" ] && dict=("-dict=test/fuzz/dict/$t.dict")
  # detect_leaks: LeakSanitizer after every input; halt_on_error: UBSan aborts.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/test/fuzz/fuzz_$t" -max_total_time="$secs" -fork=1 -ignore_crashes=1 \
      -ignore_timeouts=1 -ignore_ooms=1 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$art" "${dict[@]}" "$corpus" "test/fuzz/corpus/$t" >"$log" 2>&1 || true
}

echo "== fuzzing ${targets[*]}: ${secs}s each, $parallel at a time"
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$parallel" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "   start fuzz_$t ($(date +%H:%M:%S))"
  run_one "$t" &
  running=$((running + 1))
done
wait || true

# ---- 4. coverage of the final corpus ------------------------------------------
# libFuzzer's cov/ft over the whole corpus, from a single-process pass
# (-runs=0: every input once; fork mode's own counters are not edges), and
# the line coverage of each target's own modules with llvm-cov, from the
# replay binary built with clang's source-based coverage in $build-cov.
declare -A sources=(
  [promresp]="src/promresp.c" [meta]="src/meta.c" [config]="src/config.c"
  [table]="src/table.c src/decide.c" [request]="src/meta.c src/health.c src/reflect.c"
  [kubeobj]="src/kubeobj.c" [analyze]="src/analyze.c src/sat.c")
covbuild="$build-cov"
echo "== coverage ($covbuild, clang-14 -fprofile-instr-generate -fcoverage-mapping)"
CC=clang-14 cmake -S . -B "$covbuild" -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-g -O0" \
  "-DCMAKE_C_FLAGS=-fprofile-instr-generate -fcoverage-mapping" -DSAT_BUILD_TESTS=ON >/dev/null
replays=()
for t in "${targets[@]}"; do replays+=("fuzz_replay_$t"); done
cmake --build "$covbuild" -j "$(nproc 2>/dev/null || echo 2)" --target "${replays[@]}" >/dev/null
declare -A lines=()
for t in "${targets[@]}"; do
  rm -f "$covbuild/fuzz-$t".prof*
  LLVM_PROFILE_FILE="$covbuild/fuzz-$t.profraw" SAT_FUZZ_SKIP=${SAT_FUZZ_SKIP:-} \
    "$covbuild/test/fuzz/fuzz_replay_$t" "$build/corpus-$t" "test/fuzz/corpus/$t" >/dev/null 2>&1 || true
  llvm-profdata-14 merge -sparse "$covbuild/fuzz-$t.profraw" -o "$covbuild/fuzz-$t.profdata"
  # "TOTAL ... lines missed cover%" of the target's own sources.
  read -r -a srcs <<<"${sources[$t]}"
  lines[$t]=$(llvm-cov-14 report "$covbuild/test/fuzz/fuzz_replay_$t" \
                -instr-profile="$covbuild/fuzz-$t.profdata" "${srcs[@]}" 2>/dev/null |
              awk '$1 == "TOTAL" { print $(NF - 3) }')
done

# ---- 5. the summary -------------------------------------------------------------
# runs and seconds from the last stats line of the fork-mode run ("#N: cov: ...
# time: Ts"); execs/s = runs / seconds (fork mode's own exec/s is per job);
# cov (edges reached) of edges (instrumented: "Loaded 1 modules (E inline
# 8-bit counters)") and ft (features) from the -runs=0 pass over the final
# corpus; lines: llvm-cov line coverage of the target's own modules.
field() { # field NAME LINE: the word after NAME
  awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' <<<"$2"
}
printf '\n%-9s %10s %5s %8s %5s %6s %6s %7s %8s %9s\n' target runs secs execs/s cov edges ft \
  corpus lines findings
found=()
for t in "${targets[@]}"; do
  log="$build/fuzz-$t.log"
  line=$(grep -E '^#[0-9]+:? .*cov: ' "$log" | tail -n 1 || true)
  runs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$line")
  took=$(field time: "$line")
  took=${took%s}
  [ -n "$took" ] || took=$secs
  eps=$([ -n "$runs" ] && echo $((runs / (took > 0 ? took : 1))) || true)
  init=$(ASAN_OPTIONS=detect_leaks=0 SAT_FUZZ_SKIP=${SAT_FUZZ_SKIP:-} \
           "$build/test/fuzz/fuzz_$t" -runs=0 "$build/corpus-$t" "test/fuzz/corpus/$t" 2>&1 |
         grep -E '^#[0-9]+[[:space:]]+INITED' | tail -n 1 || true)
  cov=$(field cov: "$init")
  ft=$(field ft: "$init")
  edges=$(sed -nE 's/^INFO: Loaded [0-9]+ modules? +\(([0-9]+) inline 8-bit counters\).*/\1/p' \
            "$log" | head -n 1)
  corp=$(find "$build/corpus-$t" -type f | wc -l)
  mapfile -t arts < <(find "$build/artifacts-$t" -type f \
                        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
                           -o -name 'oom-*' -o -name 'slow-unit-*' \) | sort)
  printf '%-9s %10s %5s %8s %5s %6s %6s %7s %8s %9s\n' "$t" "${runs:-?}" "$took" "${eps:-?}" \
    "${cov:-?}" "${edges:-?}" "${ft:-?}" "$corp" "${lines[$t]:-?}" "${#arts[@]}"
  found+=("${arts[@]}")
done
for t in "${targets[@]}"; do printf '  lines of %-9s %s\n' "$t:" "${sources[$t]}"; done
[ -z "${SAT_FUZZ_SKIP:-}" ] || echo "(invariants skipped by SAT_FUZZ_SKIP: $SAT_FUZZ_SKIP)"
if [ ${#found[@]} -gt 0 ]; then
  echo
  echo "findings (logs: $build/fuzz-<target>.log):"
  printf '  %s\n' "${found[@]}"
  exit 1
fi
echo "test/fuzz/run.sh: no findings"
