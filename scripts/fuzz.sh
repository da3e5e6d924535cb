#!/bin/bash
# Fuzzes the config loader, what an app may name, the notify and node-ipc parsers and
# the JSON canonicalizer with libFuzzer:
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s each; config notify node-ipc policy json)
#
# Builds tests/fuzz/fuzz-TARGET.c with clang -fsanitize=fuzzer,address,undefined in
# build-fuzz/ (a meson build configured with -Dc_args=-fsanitize=fuzzer-no-link, which
# tests/fuzz/meson.build answers with the fuzz-TARGET-libfuzzer binaries), then runs each
# target for the given time on a copy of tests/fuzz/corpus/TARGET/. libFuzzer runs in fork
# mode and keeps going after a crash, so one shallow bug does not hide the others.
#
# Prints, per target: seconds run, inputs executed, crashes found (inputs saved, and
# distinct causes: the failed check or the sanitizer's SUMMARY line), and whether each
# known reproducer in tests/fuzz/TARGET/crashes-fixed-needed/ still fails or is fixed.
# Exit status: 0 if no input crashed, 1 if one did, 2 on usage or build errors.
#
# Environment:
#   FUZZ_BUILD_DIR   build directory (default: build-fuzz)
#   FUZZ_JOBS        libFuzzer -fork=N: parallel fuzzing processes (default: 1)
#   FUZZ_MERGE=1     afterwards, add the inputs (up to 4 KiB) that reach new edges to
#                    tests/fuzz/corpus/TARGET/ (libFuzzer -merge=1 -use_counters=0; they
#                    then run as regression tests: review them before committing)
#   FUZZ_ARGS        more libFuzzer options, e.g. "-max_len=512 -only_ascii=1"
#
# Crash inputs are kept in BUILD/fuzz-run/TARGET/artifacts/. Reproduce one with
#   BUILD/tests/fuzz/fuzz-TARGET-libfuzzer FILE   (or BUILD-gcc/tests/fuzz/fuzz-TARGET FILE)
# and, until the bug is fixed, keep it in tests/fuzz/TARGET/crashes-fixed-needed/; once
# fixed, move it into tests/fuzz/corpus/TARGET/ so it stays fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

all_targets=(config notify node-ipc policy json)

usage() {
        echo "Usage: $0 [SECONDS_PER_TARGET] [TARGET...]   (targets: ${all_targets[*]})" >&2
        exit 2
}

seconds=60
if (($# > 0)); then
        [[ $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || usage
        seconds=$1
        shift
fi
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
        [[ " ${all_targets[*]} " == *" $t "* ]] || usage
done
jobs=${FUZZ_JOBS:-1}
[[ $jobs =~ ^[0-9]+$ && $jobs -gt 0 ]] || usage
build=${FUZZ_BUILD_DIR:-build-fuzz}
[[ $build == /* ]] || build=$root/$build

# ---- toolchain: clang with libFuzzer and the sanitizer runtimes, and the build deps ----

libfuzzer_works() {
        local tmp
        tmp=$(mktemp -d)
        printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' >"$tmp/t.c"
        clang -fsanitize=fuzzer,address,undefined "$tmp/t.c" -o "$tmp/t" >/dev/null 2>&1
        local r=$?
        rm -rf "$tmp"
        return $r
}

# libFuzzer and the sanitizer runtimes of clang N are in libclang-rt-N-dev; llvm has
# llvm-symbolizer, for readable stacks. Debian 12's clang is 14.
missing=()
if ! command -v clang >/dev/null || ! libfuzzer_works; then
        clang_version=$(clang -dumpversion 2>/dev/null | cut -d. -f1 || true)
        missing+=(clang "libclang-rt-${clang_version:-14}-dev" llvm)
fi
for p in meson ninja-build pkg-config python3 libsystemd-dev libinih-dev check; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
        if ((EUID != 0)); then
                echo "Missing packages: ${missing[*]}; run as root or install them (apt-get install ${missing[*]})." >&2
                exit 2
        fi
        echo "Installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
        if ! libfuzzer_works; then
                echo "clang cannot link -fsanitize=fuzzer (libclang_rt.fuzzer missing?)" >&2
                exit 2
        fi
fi

# ---- build ----

# shellcheck disable=SC2054 # "address,undefined" is one value
options=(-Dintegration-tests=false -Dwerror=true -Dbuildtype=debugoptimized
         -Db_sanitize=address,undefined -Db_lundef=false
         "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined")
echo "=== build $build"
if [[ -f $build/build.ninja ]]; then
        meson configure "$build" "${options[@]}" >/dev/null
        ninja -C "$build" build.ninja >/dev/null
else
        CC=clang meson setup "$build" "${options[@]}" >"$build.setup.log" 2>&1 || {
                cat "$build.setup.log" >&2
                exit 2
        }
        rm -f "$build.setup.log"
fi
if ! grep -A1 '^rule c_COMPILER$' "$build/build.ninja" | grep -q 'command = clang '; then
        echo "$build is not a clang build; remove it or set FUZZ_BUILD_DIR." >&2
        exit 2
fi
binaries=()
for t in "${targets[@]}"; do
        binaries+=("tests/fuzz/fuzz-$t-libfuzzer")
done
ninja -C "$build" "${binaries[@]}" || exit 2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# fuzz-config writes each input to a file in a directory of its own, which a crashing
# or killed process leaves behind: all of them go in one directory, in memory if we can,
# removed at the end.
tmp_parent=${TMPDIR:-/tmp}
[[ -n ${TMPDIR:-} || ! -w /dev/shm ]] || tmp_parent=/dev/shm
TMPDIR=$(mktemp -d "$tmp_parent/sockd-fuzz.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# What an input that fails does: the failed check of the fuzz target, else the sanitizer's
# summary, so that the same bug found twice is counted once.
signature() {
        local bin=$1 input=$2 out
        if out=$("$bin" -runs=1 -timeout=10 "$input" 2>&1); then
                echo "(does not reproduce)"
                return
        fi
        grep -m1 -o 'check failed: .*' <<<"$out" && return
        grep -m1 -o 'SUMMARY: [A-Za-z]*Sanitizer: .*' <<<"$out" && return
        grep -m1 -o 'runtime error: .*' <<<"$out" && return
        grep -m1 -o 'ERROR: libFuzzer: .*' <<<"$out" && return
        echo "(fails, see: $bin $input)"
}

# ---- fuzz ----

status=0
summary=()
for t in "${targets[@]}"; do
        bin=$build/tests/fuzz/fuzz-$t-libfuzzer
        run=$build/fuzz-run/$t
        rm -rf "$run"
        mkdir -p "$run/corpus" "$run/artifacts"
        cp "tests/fuzz/corpus/$t/." "$run/corpus/" -r
        seeds=$(find "$run/corpus" -type f | wc -l)

        # The known bugs: do their reproducers still fail?
        known=()
        known_report=()
        if [[ -d tests/fuzz/$t/crashes-fixed-needed ]]; then
                while IFS= read -r -d '' f; do
                        sig=$(signature "$bin" "$f")
                        if [[ $sig == "(does not reproduce)" ]]; then
                                known_report+=("fixed now: ${f#"$root"/} (move it to tests/fuzz/corpus/$t/)")
                        else
                                known+=("$sig")
                                known_report+=("still fails: ${f#"$root"/}: $sig")
                        fi
                done < <(find "tests/fuzz/$t/crashes-fixed-needed" -type f ! -name 'README*' -print0 | sort -z)
        fi

        dict=()
        [[ -f tests/fuzz/fuzz-$t.dict ]] && dict=(-dict="tests/fuzz/fuzz-$t.dict")
        echo "=== fuzz-$t: ${seconds}s, $seeds seed inputs, log in $run/log"
        start=$(date +%s.%N)
        # shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
        "$bin" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
                -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$run/artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} \
                "$run/corpus" >"$run/log" 2>&1 || true
        end=$(date +%s.%N)
        elapsed=$(python3 -c "print(round($end - $start, 1))")

        # Fork mode: the parent's last "#RUNS: cov: ..." line; otherwise the final stats.
        execs=$(grep -o '^stat::number_of_executed_units: [0-9]*' "$run/log" | awk '{s += $2} END {if (NR) print s}' || true)
        [[ -n $execs ]] || execs=$(grep -o '^#[0-9]*' "$run/log" | tail -n1 | tr -dc 0-9 || true)
        [[ -n $execs ]] || execs=0
        cov=$(grep -o 'cov: [0-9]*' "$run/log" | tail -n1 | tr -dc 0-9 || true)
        corpus=$(find "$run/corpus" -type f | wc -l)

        mapfile -t artifacts < <(find "$run/artifacts" -type f | sort)
        declare -A first=() count=()
        for a in "${artifacts[@]}"; do
                sig=$(signature "$bin" "$a")
                count[$sig]=$((${count[$sig]:-0} + 1))
                [[ -n ${first[$sig]:-} ]] || first[$sig]=$a
        done
        ((${#artifacts[@]} == 0)) || status=1
        if grep -q 'ERROR: libFuzzer\|==ERROR\|check failed' "$run/log" && ((${#artifacts[@]} == 0)); then
                echo "fuzz-$t failed without saving an input, see $run/log" >&2
                status=1
        fi

        line=$(printf '%-9s %7ss %12s execs %9s exec/s  cov %5s  corpus %4s -> %-5s  crashes: %d inputs, %d distinct' \
                "$t" "$elapsed" "$execs" "$(python3 -c "print(int($execs / max($elapsed, 0.1)))")" \
                "${cov:-?}" "$seeds" "$corpus" "${#artifacts[@]}" "${#first[@]}")
        summary+=("$line")
        for sig in "${!first[@]}"; do
                tag=new
                for k in "${known[@]}"; do
                        [[ $k == "$sig" ]] && tag=known
                done
                summary+=("    $tag (${count[$sig]}x): $sig")
                summary+=("        e.g. ${first[$sig]}")
        done
        for k in "${known_report[@]}"; do
                summary+=("    reproducer $k")
        done
        unset first count

        if [[ ${FUZZ_MERGE:-0} == 1 ]]; then
                # Only inputs that reach a new edge (-use_counters=0), and none over 4 KiB:
                # the corpus stays small enough to review and to run in every test run.
                rm -rf "$run/merge"
                mkdir -p "$run/merge"
                find "$run/corpus" -type f -size -4097c -exec cp -t "$run/merge" {} +
                before=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
                "$bin" -merge=1 -use_counters=0 "tests/fuzz/corpus/$t" "$run/merge" >"$run/merge.log" 2>&1 || {
                        echo "merge failed, see $run/merge.log" >&2
                        status=1
                }
                after=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
                summary+=("    merged: tests/fuzz/corpus/$t: $before -> $after inputs, $(du -sh "tests/fuzz/corpus/$t" | cut -f1)")
        fi
done

echo
echo "=== summary (${seconds}s per target, $jobs job(s), $(nproc) CPUs)"
printf '%s\n' "${summary[@]}"
exit "$status"
