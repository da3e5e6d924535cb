#!/bin/bash
# Config edits applied by a restart, on a real systemd: an edited Environment=,
# EnvironmentFile= and WorkingDirectory= reach every worker through 'sockdctl restart'
# under load with no failed request; an edited Exec= path; 'restart --dry-run'; what a
# restart cannot apply (Group=, [Socket] keys) refused before anything is touched; a
# broken edit aborted with file:line while the old generations serve; 'systemctl
# reload' after a daemon-reload; drop-ins (web.conf.d/*.conf) applied, hidden, broken.
#
# Usage: test-config-edit.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: test-config-edit.sh BUILD_DIR}
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$here/sockd-lib.sh"

ct_require_root_or_skip
ct_boot
sockd_install "$build" "$src"

ct useradd --system --no-create-home --shell /usr/sbin/nologin webapp
ct groupadd --system deploy
ct mkdir -p /srv/web-a /srv/web-b /etc/web /run/sockd-test
# A secret only root reads, as systemd reads EnvironmentFile=s before it drops to User=.
ct_write /etc/web/secret.env 0600 <<<'SECRET=s1'

write_config() { # GREETING EXEC_FILE WORKDIR [EXTRA_LINE]
	ct_write /etc/sockd/web.conf <<EOF
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/$2
User=webapp
WorkingDirectory=$3
Environment=GREETING=$1
EnvironmentFile=/etc/web/secret.env
Workers=3
StopTimeoutSec=20s
${4:-}
EOF
}
write_config hello envapp.py /srv/web-a
# An administrator's drop-in: not the config's, so a restart neither applies nor refuses it.
ct_write /etc/systemd/system/web@.service.d/50-admin.conf <<<$'[Service]\nEnvironment=ADMIN_NOTE=kept'
ct systemctl daemon-reload
ct_nginx_start "$(sockd_nginx_conf_apps web:3)"
ct sockdctl -q start web

# what every worker answers: "greeting=... secret=... cwd=... exec=..."
answers() {
	local i out
	for i in 0 1 2; do
		out=$(ct curl -sf "http://127.0.0.1:8080/web/w$i/") || out=FAILED
		printf 'w%d %s %s %s %s\n' "$i" "greeting=$(sockd_field greeting "$out")" "secret=$(sockd_field secret "$out")" \
			"cwd=$(sockd_field cwd "$out")" "exec=$(sockd_field exec "$out")"
	done
}
# answers_settle EXPECTED: what answers shows once every worker's old generation is gone
# (nginx's idle connections to a draining generation still reach it, once).
answers_settle() {
	local i out
	for ((i = 0; i < 50; i++)); do
		out=$(answers)
		[[ $out == "$1" ]] && break
		sleep 0.1
	done
	echo "$out"
}
# what each worker's shim says serves (a response could still come from a draining one)
pids() {
	local i
	for i in 0 1 2; do
		ct systemctl show -P StatusText "web@$i.service" | grep -o 'serving: generation [0-9]*, pid [0-9]*' || echo none
	done | tr '\n' ' '
}
assert_eq "$(answers)" $'w0 greeting=hello secret=s1 cwd=/srv/web-a exec=envapp.py\nw1 greeting=hello secret=s1 cwd=/srv/web-a exec=envapp.py\nw2 greeting=hello secret=s1 cwd=/srv/web-a exec=envapp.py' \
	"every worker runs the config: Environment=, the root-only EnvironmentFile=, WorkingDirectory=, Exec="

# ---- --dry-run: what would change, per worker, and nothing changes ----
write_config bonjour envapp.py /srv/web-b
ct_write /etc/web/secret.env 0600 <<<'SECRET=s2'
before=$(pids)
rc=0; out=$(ct sockdctl restart --dry-run web 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 0 "sockdctl restart --dry-run exits 0"
assert_match "$out" $'^web@0.service:\n  Environment= GREETING changed\n  WorkingDirectory= \'/srv/web-a\' -> \'/srv/web-b\'\nweb@1.service:' \
	"it names each worker's changed keys, old and new values"
if [[ $out == *bonjour* || $out == *hello* ]]; then fail "and never an Environment= value"; else ok "and never an Environment= value"; fi
assert_match "$out" "A restart runs 'systemctl daemon-reload', then starts a new generation on every running worker" \
	"and says what a restart would do"
assert_eq "$(pids)" "$before" "--dry-run touched no worker"
assert_eq "$(ct systemctl show -P NeedDaemonReload web@0.service)" yes "nor systemd's units"

# ---- the edit under load: zero failed requests, every worker on the new config ----
ct_sh 'wrk -t2 -c16 -d8s -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/web/ >/run/sockd-test/wrk-edit.txt 2>&1 &'
sleep 2
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 0 "sockdctl restart web applies the edit"
assert_match "$out" "^/etc/sockd/web.conf changed: reloading systemd's units \\(daemon-reload\\)" "with a daemon-reload first"
ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'
sockd_assert_wrk_clean /run/sockd-test/wrk-edit.txt "Environment=, EnvironmentFile= and WorkingDirectory= edit under load"
want=$'w0 greeting=bonjour secret=s2 cwd=/srv/web-b exec=envapp.py\nw1 greeting=bonjour secret=s2 cwd=/srv/web-b exec=envapp.py\nw2 greeting=bonjour secret=s2 cwd=/srv/web-b exec=envapp.py'
assert_eq "$(answers_settle "$want")" $'w0 greeting=bonjour secret=s2 cwd=/srv/web-b exec=envapp.py\nw1 greeting=bonjour secret=s2 cwd=/srv/web-b exec=envapp.py\nw2 greeting=bonjour secret=s2 cwd=/srv/web-b exec=envapp.py' \
	"every worker runs the edited config, the secret file's new content too"
assert_eq "$(ct systemctl show -P NeedDaemonReload web@0.service)" no "systemd's units are the config's"

# ---- an edited Exec= path ----
ct cp /usr/local/share/sockd-test/envapp.py /usr/local/share/sockd-test/envapp-v2.py
write_config bonjour envapp-v2.py /srv/web-b
out=$(ct sockdctl restart --dry-run web)
assert_match "$out" "Exec= '/usr/bin/python3 /usr/local/share/sockd-test/envapp.py' -> '/usr/bin/python3 /usr/local/share/sockd-test/envapp-v2.py'" \
	"--dry-run shows the Exec= edit"
ct sockdctl -q restart web || fail "sockdctl restart web with an edited Exec="
want=$'w0 greeting=bonjour secret=s2 cwd=/srv/web-b exec=envapp-v2.py\nw1 greeting=bonjour secret=s2 cwd=/srv/web-b exec=envapp-v2.py\nw2 greeting=bonjour secret=s2 cwd=/srv/web-b exec=envapp-v2.py'
assert_eq "$(answers_settle "$want")" "$want" "every worker runs the new Exec= path"


# ---- what a restart cannot apply: refused, nothing touched ----
write_config bonjour envapp-v2.py /srv/web-b "Group=deploy"
before=$(pids)
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 2 "an edited Group= is refused: exit 2"
assert_match "$out" "The config \\(/etc/sockd/web.conf\\) has changes a restart cannot apply; nothing was changed" "saying nothing changed"
assert_match "$out" $'web@0.service:\n  Group= \'\' -> \'deploy\' \\(a restart cannot apply it\\)' "naming the key, old and new value"
assert_match "$out" "'systemctl daemon-reload && systemctl restart web@\\*.service'" "and the command that applies it"
assert_eq "$(pids)" "$before" "no worker was touched"
assert_eq "$(ct systemctl show -P NeedDaemonReload web@0.service)" yes "nor systemd's units (no daemon-reload)"

write_config bonjour envapp-v2.py /srv/web-b $'[Socket]\nMode=0600'
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
assert_eq "$rc" 2 "an edited [Socket] Mode= is refused too"
assert_match "$out" "\\[Socket\\] Mode= '0660' -> '0600'" "naming it"
assert_match "$out" "'sockdctl stop web && systemctl daemon-reload && sockdctl start web'" "and what applies it"

# A [Socket] edit that a daemon-reload already loaded: sockdctl cannot see it against
# the units, the shims refuse it, and nothing restarts.
write_config bonjour envapp-v2.py /srv/web-b $'[Socket]\nBacklog=1024'
ct systemctl daemon-reload
before=$(pids)
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 1 "a loaded but unapplied Backlog= edit: the shims refuse it, exit 1"
assert_match "$out" "web@0.service: \\[Socket\\] Backlog= changed: a new generation cannot apply it, only a new socket does \\('sockdctl stop web && sockdctl start web'\\)" \
	"naming the worker, the key and why"
assert_match "$out" "Nothing was restarted: every worker keeps serving its generation." "saying nothing changed"
assert_eq "$(pids)" "$before" "every worker serves its generation"
write_config bonjour envapp-v2.py /srv/web-b
ct systemctl daemon-reload

# ---- a broken edit: file:line, the old generations serve ----
write_config bonjour envapp-v2.py /srv/web-b "ReadyTimeoutSec=soon"
before=$(pids)
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 2 "a broken edit aborts the restart: exit 2"
assert_match "$out" "/etc/sockd/web.conf'?:9: ReadyTimeoutSec" "naming file:line and the key"
assert_match "$out" "Nothing was restarted: every worker of web keeps serving" "saying nothing changed"
assert_eq "$(pids)" "$before" "the old generations keep serving"
assert_eq "$(ct systemctl is-active web@0.service web@1.service web@2.service | sort -u)" active "every worker is active"
ct_sh 'rm /etc/web/secret.env'
write_config bonjour envapp-v2.py /srv/web-b
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
assert_eq "$rc" 2 "a required EnvironmentFile= that is gone aborts too"
assert_match "$out" "EnvironmentFile" "naming it"
assert_eq "$(pids)" "$before" "and the old generations keep serving"
ct_write /etc/web/secret.env 0600 <<<'SECRET=s3'

# ---- systemctl reload after a daemon-reload: one worker, the unit as loaded ----
write_config hallo envapp-v2.py /srv/web-a
ct systemctl daemon-reload
ct systemctl reload web@0.service || fail "systemctl reload web@0 after a daemon-reload"
want=$'w0 greeting=hallo secret=s3 cwd=/srv/web-a exec=envapp-v2.py\nw1 greeting=bonjour secret=s2 cwd=/srv/web-b exec=envapp-v2.py\nw2 greeting=bonjour secret=s2 cwd=/srv/web-b exec=envapp-v2.py'
assert_eq "$(answers_settle "$want")" "$want" \
	"systemctl reload web@0 runs the loaded unit's Environment=, EnvironmentFile= and WorkingDirectory= there only"
# A worker whose app crashes comes back on the same config: the unit as loaded. Once the
# old generation handed over: until then it still answers the connections it has.
sockd_wait_handed_over web@0.service || fail "web@0's old generation hands over and exits"
old=$(sockd_field pid "$(ct curl -sf http://127.0.0.1:8080/web/w0/)")
ct kill -KILL "$old"
out=$(sockd_wait_pid_change "$old" http://127.0.0.1:8080/web/w0/) || fail "web@0 serves again after its app was killed"
assert_match "$out" "greeting=hallo secret=s3 cwd=/srv/web-a" "a crash restarts web@0 on the same config"
rc=0; out=$(ct sockdctl restart --dry-run web 2>&1) || rc=$?
assert_match "$out" $'web@0.service: no change\nweb@1.service: no change' "--dry-run after a daemon-reload: the units are the config"
if [[ $out == *ADMIN_NOTE* ]]; then fail "an administrator's drop-in is not the config's"; else ok "an administrator's drop-in is not the config's"; fi
ct sockdctl -q restart web || fail "sockdctl restart web brings every worker to the loaded config"
want=$'w0 greeting=hallo secret=s3 cwd=/srv/web-a exec=envapp-v2.py\nw1 greeting=hallo secret=s3 cwd=/srv/web-a exec=envapp-v2.py\nw2 greeting=hallo secret=s3 cwd=/srv/web-a exec=envapp-v2.py'
assert_eq "$(answers_settle "$want")" "$want" "every worker runs it"

# ---- drop-ins: /etc/sockd/web.conf.d/*.conf and /run's, read after web.conf ----
ct mkdir -p /etc/sockd/web.conf.d /run/sockd/web.conf.d
ct_write /etc/sockd/web.conf.d/50-greeting.conf <<<$'[App]\nEnvironment=GREETING=servus'
# Hidden by /etc's drop-in of the same name.
ct_write /run/sockd/web.conf.d/50-greeting.conf <<<$'[App]\nEnvironment=GREETING=hidden'
rc=0; out=$(ct sockdctl restart --dry-run web 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_match "$out" $'web@0.service:\n  Environment= GREETING changed' "--dry-run shows what a drop-in changes"
assert_match "$out" "with the config in /etc/sockd/web.conf and its drop-ins /etc/sockd/web.conf.d/50-greeting.conf\\." \
	"and names the drop-in that applies, not the hidden one"
ct sockdctl -q restart web || fail "sockdctl restart web applies a drop-in"
want=$'w0 greeting=servus secret=s3 cwd=/srv/web-a exec=envapp-v2.py\nw1 greeting=servus secret=s3 cwd=/srv/web-a exec=envapp-v2.py\nw2 greeting=servus secret=s3 cwd=/srv/web-a exec=envapp-v2.py'
assert_eq "$(answers_settle "$want")" "$want" "every worker runs the drop-in's Environment="
assert_match "$(ct systemctl show -P Environment web@1.service)" "GREETING=servus" \
	"and the generator wrote it into the units (a worker systemd starts again runs it)"

# A broken drop-in aborts with its file:line; the old generations serve.
ct_write /run/sockd/web.conf.d/60-more.conf <<<$'[App]\n\nWorkers=lots'
before=$(pids)
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 2 "a broken drop-in aborts the restart: exit 2"
assert_match "$out" "/run/sockd/web.conf.d/60-more.conf'?:3: Workers" "naming the drop-in, its line and the key"
assert_eq "$(pids)" "$before" "the old generations keep serving"
# Workers= from a drop-in is a change of the number of workers: refused, named.
ct_write /run/sockd/web.conf.d/60-more.conf <<<$'[App]\nWorkers=4'
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 2 "Workers= in a drop-in is refused by a restart: exit 2"
assert_match "$out" "Workers= 3 -> 4" "naming the key, old and new value"
assert_eq "$(pids)" "$before" "no worker was touched"
ct rm /run/sockd/web.conf.d/60-more.conf

sockd_assert_no_sanitizer_reports
ct_finish
