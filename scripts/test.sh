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
        rm -f "$dir"/meson-logs/{unit,integration}.json
        meson test -C "$dir" --logbase unit --print-errorlogs --num-processes 2 --suite unit || status=1
        # --verbose: the integration scripts print one line per check; CI logs keep them.
        meson test -C "$dir" --logbase integration --print-errorlogs --verbose --suite integration || status=1
        cat "$dir"/meson-logs/{unit,integration}.json >>"$results" || status=1
}

status=0
results=$(mktemp)
trap 'rm -f "$results"' EXIT
run_suite build-ci -Dwerror=true
run_suite build-sanitizers -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false

# One closing line over both builds: meson tests passed, failed, skipped.
python3 - "$results" <<'EOF'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0}
for line in open(sys.argv[1]):
    result = json.loads(line)["result"]
    counts["OK" if result == "OK" else "SKIP" if result == "SKIP" else "FAIL"] += 1
print("%d passed, %d failed, %d skipped" % (counts["OK"], counts["FAIL"], counts["SKIP"]))
EOF
exit "$status"
