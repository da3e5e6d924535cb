#!/bin/bash
# The install directories come from systemd.pc unless overridden: configure a scratch
# build with overrides and check where meson would install each part.
set -euo pipefail
src=${1:?usage: check-meson-options.sh SOURCE_DIR}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

passed=0 failed=0
check() { # build-dir file-basename expected-dir
	local got b=$1
	shift
	got=$(meson introspect --installed "$b" | python3 -c '
import json, os, sys
for src, dst in json.load(sys.stdin).items():
    if os.path.basename(dst) == sys.argv[1]:
        print(os.path.dirname(dst))' "$1")
	# one file may install to several places (the generator, for system and user)
	if grep -qxF -- "$2" <<<"$got"; then
		echo "ok - $1 installs to $2"
		passed=$((passed + 1))
	else
		echo "not ok - $1 installs to '$got', expected $2"
		failed=$((failed + 1))
	fi
}

meson setup "$scratch/b" "$src" --prefix=/opt/sockd -Dintegration-tests=false \
	-Dsystemunitdir=/x/units -Dsystemgeneratordir=/x/generators -Dusergeneratordir=/x/usergenerators \
	-Dtmpfilesdir=/x/tmpfiles -Dbashcompletiondir=/x/completions >/dev/null
check "$scratch/b" sockd.slice /x/units
check "$scratch/b" sockd-generator /x/generators
check "$scratch/b" sockd-generator /x/usergenerators
check "$scratch/b" sockdctl /x/completions
check "$scratch/b" sockd.conf /x/tmpfiles
check "$scratch/b" sockd-spawn /opt/sockd/libexec

# Without overrides: systemd.pc's directories.
meson setup "$scratch/b2" "$src" --prefix=/usr -Dintegration-tests=false >/dev/null
check "$scratch/b2" sockd-generator "$(pkg-config --variable=systemdsystemgeneratordir systemd)"
check "$scratch/b2" sockd-generator "$(pkg-config --define-variable=prefix=/usr --variable=systemdusergeneratordir systemd)"
check "$scratch/b2" sockd.slice "$(pkg-config --variable=systemdsystemunitdir systemd)"
check "$scratch/b2" sockd.conf "$(pkg-config --define-variable=prefix=/usr --variable=tmpfilesdir systemd)"

echo "$passed passed, $failed failed"
((failed == 0))
