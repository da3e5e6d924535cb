#!/bin/bash
# The Debian package: built with dpkg-buildpackage from this tree, installed with dpkg -i
# in the test container. Install must provision the runtime dirs (tmpfiles) and reload
# systemd so the generator sees configs already there, without a reboot; an app runs from
# the package; removal leaves the apps' configs.
#
# Usage: test-deb.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

ct_require_root_or_skip
if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
	printf '\n***** SKIP: %s: dpkg-buildpackage/debhelper missing (scripts/install-deps.sh installs them) *****\n\n' "${0##*/}" >&2
	exit 77
fi

# Build from a copy: dpkg-buildpackage writes into the parent directory, and the tree
# may hold build directories of its own.
work=$(mktemp -d /var/tmp/sockd-deb.XXXXXX)
cleanup_work() { rm -rf --one-file-system -- "$work"; }
mkdir "$work/sockd"
tar -C "$src" --exclude='./build*' --exclude=./.git --exclude=./debian/sockd --exclude=./obj-\* -cf - . | tar -C "$work/sockd" -xf -
if (cd "$work/sockd" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b builds the package"
else
	fail "dpkg-buildpackage -us -uc -b builds the package"
	tail -n 40 "$work/build.log" | sed 's/^/#   /'
	# dh_auto_test's meson prints only a summary: the failing tests' own output is in
	# the build tree's testlog, which goes away with $work.
	for testlog in "$work"/sockd/obj-*/meson-logs/testlog.txt; do
		[[ -f $testlog ]] || continue
		printf '# failing tests in %s:\n' "$testlog"
		awk '/^=+ [0-9]+\/[0-9]+ =+$/ { if (failed) printf "%s", block; block = ""; failed = 0 }
			{ block = block $0 "\n" }
			/^result: +/ && !/exit status (0|77)$/ { failed = 1 }
			END { if (failed) printf "%s", block }' "$testlog" | sed 's/^/#   /'
	done
	cleanup_work
	ct_finish
	exit 1
fi
deb=$(ls "$work"/sockd_*.deb)
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/sockdctl ./usr/libexec/sockd-spawn ./lib/systemd/system-generators/sockd-generator \
	./usr/lib/systemd/user-generators/sockd-generator ./lib/systemd/system/sockd.slice ./usr/lib/tmpfiles.d/sockd.conf \
	./usr/share/man/man1/sockdctl.1.gz ./usr/share/man/man5/sockd.conf.5.gz ./usr/share/man/man8/sockd-spawn.8.gz \
	./usr/share/man/man8/sockd-generator.8.gz ./usr/share/bash-completion/completions/sockdctl \
	./usr/share/sockd/examples/python/app.py; do
	if grep -qF " $f" <<<"$contents"; then ok "the package ships $f"; else fail "the package ships $f"; fi
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
if grep -qF " ./usr/lib/$multiarch/sockd/libsockd-preload.so" <<<"$contents"; then
	ok "the package ships the preload library in /usr/lib/$multiarch/sockd"
else
	fail "the package ships the preload library in /usr/lib/$multiarch/sockd"
fi

ct_boot
# An app configured before the package is installed: postinst's daemon-reload must
# make the generator see it.
ct_write /etc/sockd/hello-py.conf <<'EOF2'
[App]
Exec=/usr/bin/python3 /usr/share/sockd/examples/python/app.py
Workers=2
EOF2
ct_write /run/sockd-test/sockd.deb <"$deb"
if ct env DEBIAN_FRONTEND=noninteractive dpkg -i /run/sockd-test/sockd.deb >/dev/null; then ok "dpkg -i installs it"; else fail "dpkg -i installs it"; fi
assert_eq "$(ct stat -c '%U %G %a' /run/sockd 2>&1)" "root root 755" "/run/sockd exists right after install (tmpfiles, no reboot)"
assert_eq "$(ct systemctl show -P LoadState hello-py@0.service)" loaded "the generator saw the existing config (daemon-reload in postinst)"
assert_match "$(ct systemctl show -P ExecStart hello-py@0.service)" 'path=/usr/libexec/sockd-spawn' "the units run the packaged sockd-spawn"
ct systemctl start hello-py.target
assert_match "$(ct curl -sf --unix-socket /run/hello-py/hello-py.1.sock http://localhost/)" '^app=hello-py worker=1 generation=1 ' \
	"an app runs from the package"
assert_match "$(ct sockdctl status hello-py)" $'\nhello-py@0.service +serving ' "sockdctl from the package sees it"
pid=$(ct systemctl show -P StatusText hello-py@0.service | sed -n 's/^serving: generation [0-9]*, pid \([0-9]*\).*/\1/p')
assert_match "$(ct grep -c libsockd-preload "/proc/$pid/maps" 2>&1)" '^[1-9]' "the app runs with the packaged preload library"
assert_match "$(ct man -w sockdctl 2>&1)" '/usr/share/man/man1/sockdctl.1.gz' "man sockdctl finds the page"
for doc in $(ct systemctl show -P Documentation hello-py@0.service | tr -d '"'); do
	page=${doc#man:}
	assert_match "$(ct man -w "${page%%(*}" 2>&1)" "/usr/share/man/man[158]/${page%%(*}" "Documentation=$doc is installed"
done

ct systemctl stop hello-py.target hello-py@0 hello-py@1 hello-py@0.socket hello-py@1.socket
if ct env DEBIAN_FRONTEND=noninteractive dpkg -r sockd >/dev/null; then ok "dpkg -r removes it"; else fail "dpkg -r removes it"; fi
assert_eq "$(ct cat /etc/sockd/hello-py.conf | head -n1)" "[App]" "removal leaves the apps' configs"
if ct test -e /usr/bin/sockdctl; then fail "sockdctl is gone after removal"; else ok "sockdctl is gone after removal"; fi
assert_eq "$(ct systemctl show -P LoadState hello-py@0.service)" not-found "and so are the generated units (daemon-reload in postrm)"

cleanup_work
ct_finish
