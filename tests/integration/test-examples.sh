#!/bin/bash
# The examples as a user installs them: the Node, Python and C apps with their configs
# from the install tree, behind nginx, restarted under load and through a suspended
# restart (each app's own hold-and-resume mechanism).
#
# Usage: test-examples.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: test-examples.sh BUILD_DIR}
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$here/sockd-lib.sh"

ct_require_root_or_skip
ct_boot
sockd_install "$build" "$src"

examples=$(ct_sh 'dirname "$(find / -xdev -path "*/share/sockd/examples/node/hello.conf" 2>/dev/null | head -n1)"')
examples=${examples%/node}
assert_match "$examples" '/share/sockd/examples$' "the examples are installed"
# The configs say /usr/bin/node (Debian's); use this machine's node.
ct mkdir -p /etc/sockd
ct_sh "sed 's|/usr/bin/node|$(command -v node)|' $examples/node/hello.conf >/etc/sockd/hello.conf"
ct cp "$examples/python/hello-py.conf" /etc/sockd/hello-py.conf
ct cp "$examples/c/hello-c.conf" /etc/sockd/hello-c.conf
ct systemctl daemon-reload
for app in hello hello-py hello-c; do
	ct systemctl start "$app.target"
done
ct_nginx_start "$(sockd_nginx_conf_apps hello:3 hello-py:2 hello-c:2)"

for app in hello hello-py hello-c; do
	assert_match "$(ct curl -sf -m 30 "http://127.0.0.1:8080/$app/")" "^app=$app worker=[0-9] generation=1 " "$app: served through nginx"

	ct_sh "wrk -t2 -c16 -d5s -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/$app/ >/run/wrk-$app.txt 2>&1 &"
	sleep 1
	if ct sockdctl -q restart "$app"; then ok "$app: sockdctl restart under load"; else fail "$app: sockdctl restart under load"; fi
	ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'
	sockd_assert_wrk_clean "/run/wrk-$app.txt" "$app: restart"
	assert_match "$(sockd_wait_generation 2 "http://127.0.0.1:8080/$app/w0/")" "generation=2 " "$app: worker 0 serves generation 2"

	# Suspended restart: a request sent while suspended is held, then served by the
	# new generation after resume.
	ct sockdctl -q restart --suspended "$app"
	ct_sh "curl -sf -m 30 http://127.0.0.1:8080/$app/ >/run/held-$app.txt 2>&1 &"
	sleep 1
	assert_eq "$(ct cat "/run/held-$app.txt")" "" "$app: a request during the suspension is held, not answered"
	ct sockdctl -q resume "$app"
	ct_sh 'while pgrep -x curl >/dev/null; do sleep 0.1; done'
	assert_match "$(ct cat "/run/held-$app.txt")" "^app=$app worker=[0-9] generation=3 " "$app: after resume the held request is served by the new generation"
done

# bash completion, installed, completes verbs, options and the app names systemd knows
comp=$(ct_sh 'for f in /usr/local/share/bash-completion/completions/sockdctl /usr/share/bash-completion/completions/sockdctl; do [ -f "$f" ] && . "$f" && break; done
COMP_WORDS=(sockdctl re); COMP_CWORD=1; _sockdctl; echo "${COMPREPLY[*]}"
COMP_WORDS=(sockdctl restart hello-); COMP_CWORD=2; _sockdctl; echo "${COMPREPLY[*]}"
COMP_WORDS=(sockdctl --sus); COMP_CWORD=1; _sockdctl; echo "${COMPREPLY[*]}"')
assert_eq "$comp" $'restart resume\nhello-c hello-py\n--suspended' "bash completion: verbs, app names, options"

sockd_assert_no_sanitizer_reports
ct_finish
