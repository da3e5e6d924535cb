#!/bin/bash
# Runs every test: the unit suites and the integration suite (a real systemd in a
# container, needs root), once in a -Werror build and once under AddressSanitizer and
# UndefinedBehaviorSanitizer. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

run_suite() {
        local dir=$1
        shift
        echo "=== build $dir ($*)"
        if [[ -d $dir ]]; then
                meson configure "$dir" "$@" >/dev/null
        else
                meson setup "$dir" "$@"
        fi
        ninja -C "$dir"
        meson test -C "$dir" --print-errorlogs --num-processes 2 --suite unit
        meson test -C "$dir" --print-errorlogs --suite integration
}

run_suite build-ci -Dwerror=true
run_suite build-sanitizers -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
