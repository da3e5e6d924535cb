#!/bin/bash
# 'sockdctl scale' and 'sockdctl nginx --write --reload' on a real systemd with the
# Debian nginx.service in front: 3 -> 6 -> 2 -> 3 workers under wrk GET+POST load with
# no failed request, nginx's upstream file and 'sockdctl status' following each step; an
# upstream nginx -t refuses is put back and nothing stops; a scale whose new worker fails
# is undone (workers, drop-in, units, upstream); a scale while another one of the app
# runs is refused; a reboot keeps a persisted count and forgets a --runtime one.
#
# Usage: test-scale.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: test-scale.sh BUILD_DIR}
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$here/sockd-lib.sh"

ct_require_root_or_skip
# nginx.service is the one sockdctl reloads: not masked here.
CT_MASK_UNITS="postgresql.service"
ct_boot
sockd_install "$build" "$src"

upstream=/etc/nginx/sockd/web.conf
ct mkdir -p /etc/nginx/sockd /run/sockd-test
ct_write /etc/sockd/web.conf <<EOF
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
Environment=PYAPP_FAIL_FLAG=/etc/sockd-test-fail
Workers=3
StopTimeoutSec=20s
EOF
ct_write /etc/nginx/nginx.conf <<EOF
user www-data;
worker_processes 2;
pid /run/nginx.pid;
error_log stderr warn;
events { worker_connections 2048; }
http {
    access_log off;
    proxy_read_timeout 120s;
    include $upstream;
    server {
        listen 127.0.0.1:8080;
        location /web/ {
            proxy_pass http://web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502;
            proxy_next_upstream_tries 6;
        }
    }
}
EOF
ct systemctl daemon-reload
ct sockdctl -q start web

# ---- sockdctl nginx --write: the upstream file, at once; --reload ----
rc=0; out=$(ct sockdctl nginx web --write="$upstream" 2>&1) || rc=$?
assert_eq "$rc" 0 "sockdctl nginx web --write writes the upstream"
assert_eq "$(ct grep -c 'server unix:' "$upstream")" 3 "with the three workers' sockets"
assert_eq "$(ct sockdctl nginx web)" "$(ct cat "$upstream")" "the file is what 'sockdctl nginx web' prints"
ct systemctl start nginx.service
assert_eq "$(ct systemctl is-active nginx.service)" active "nginx.service runs with it"
rc=0; out=$(ct sockdctl nginx web --write="$upstream" --reload 2>&1) || rc=$?
assert_eq "$rc" 0 "--reload: nginx -t, reload, old nginx workers gone"
assert_match "$out" "nginx reloaded" "and says so"
rc=0; out=$(ct sockdctl nginx web --reload 2>&1) || rc=$?
assert_eq "$rc" 2 "--reload without --write is a usage error"

# 'sockdctl scale N' lines of 'sockdctl status web' in the serving state
serving() { ct sockdctl status web | grep -c ' serving ' || true; }
servers() { ct grep -c 'server unix:' "$upstream" || true; }
dropin() { ct cat /etc/sockd/web.conf.d/90-sockdctl-scale.conf 2>/dev/null | grep '^Workers=' || echo none; }

# ---- under load: 3 -> 6 -> 2 -> 3 ----
# Connection: close: a reload of nginx closes its idle client keep-alive connections, and
# a request wrk sends on one at that instant is lost on nginx's side, not sockd's (a
# browser sends it again; wrk counts a read error).
ct_sh 'wrk -t2 -c16 -d30s -H "Connection: close" -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/web/ >/run/sockd-test/wrk-scale.txt 2>&1 &'
sleep 2
for n in 6 2 3; do
	rc=0; out=$(ct sockdctl scale web "$n" --nginx="$upstream" 2>&1) || rc=$?
	echo "$out" | sed 's/^/# /'
	assert_eq "$rc" 0 "sockdctl scale web $n under load"
	assert_eq "$(dropin)" "Workers=$n" "Workers=$n is in the drop-in"
	assert_eq "$(servers)" "$n" "nginx's upstream lists $n sockets"
	assert_eq "$(serving)" "$n" "sockdctl status shows $n workers serving"
	assert_eq "$(ct systemctl show -P Wants web.target | tr ' ' '\n' | grep -c '^web@')" "$n" "web.target wants $n workers"
	sleep 2
done
assert_eq "$(ct systemctl is-active web@3.service web@4.service web@5.service | sort -u)" inactive \
	"the workers scaled away are stopped"
assert_eq "$(ct systemctl is-active web@3.socket web@5.socket | sort -u)" inactive "and their sockets"
ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'
sockd_assert_wrk_clean /run/sockd-test/wrk-scale.txt "3 -> 6 -> 2 -> 3 workers"

# ---- an upstream nginx -t refuses: put back, nothing stops ----
before=$(ct cat "$upstream")
ct cp /etc/nginx/nginx.conf /run/sockd-test/nginx.conf.good
ct_sh 'echo "broken;" >>/etc/nginx/nginx.conf'
rc=0; out=$(ct sockdctl scale web 2 --nginx="$upstream" 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 2 "a scale down whose upstream nginx -t refuses: exit 2"
assert_match "$out" "'nginx -t' refuses the configuration with $upstream" "saying why"
assert_match "$out" "No worker was stopped" "and that no worker was stopped"
assert_eq "$(ct cat "$upstream")" "$before" "the upstream file is as it was"
assert_eq "$(dropin)" "Workers=3" "so is the drop-in"
assert_eq "$(serving)" 3 "all three workers serve"
ct cp /run/sockd-test/nginx.conf.good /etc/nginx/nginx.conf

# ---- a new worker that fails: everything undone ----
ct touch /etc/sockd-test-fail
rc=0; out=$(ct sockdctl scale web 5 --nginx="$upstream" 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 1 "a scale whose new worker fails: exit 1"
assert_match "$out" "web@3.service" "naming the worker"
assert_match "$out" "are as they were" "saying the config and units are back"
ct rm /etc/sockd-test-fail
assert_eq "$(dropin)" "Workers=3" "the drop-in says 3 again"
assert_eq "$(servers)" 3 "nginx's upstream still lists 3"
assert_eq "$(ct systemctl show -P Wants web.target | tr ' ' '\n' | grep -c '^web@')" 3 "web.target wants 3 again"
assert_eq "$(ct systemctl is-active web@3.service web@4.service | sort -u)" inactive "the started workers are stopped again"
assert_eq "$(serving)" 3 "the three workers serve on"
assert_eq "$(ct curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/web/)" 200 "through nginx"

# ---- what a scale refuses ----
rc=0; out=$(ct sockdctl scale web 0 2>&1) || rc=$?
assert_eq "$rc" 2 "scale to 0 workers is a usage error"
ct_sh 'printf "[App]\nEnvironment=EDIT=1\n" >/etc/sockd/web.conf.d/20-edit.conf'
rc=0; out=$(ct sockdctl scale web 4 2>&1) || rc=$?
assert_eq "$rc" 2 "a scale with other edits pending is refused"
assert_match "$out" "other edits than Workers=" "saying so"
assert_eq "$(dropin)" "Workers=3" "and changing nothing"
ct rm /etc/sockd/web.conf.d/20-edit.conf
# a search path with one directory has no place for the runtime drop-in and the lock
rc=0; out=$(ct env SOCKD_CONFIG_PATH=/etc/sockd sockdctl scale web 4 2>&1) || rc=$?
assert_eq "$rc" 2 "a scale with a one-directory SOCKD_CONFIG_PATH is refused"
assert_match "$out" "fewer than two directories" "saying why"
assert_eq "$(dropin)" "Workers=3" "and changing nothing"
# another scale of the same app is running (here: something else holds its lock)
ct mkdir -p /run/sockd
ct systemd-run --quiet --unit=scale-locker flock /run/sockd/web.scale.lock sleep 120
ct_sh 'for i in $(seq 100); do flock -n /run/sockd/web.scale.lock true || break; sleep 0.05; done'
rc=0; out=$(ct sockdctl scale web 4 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 1 "a scale while another one runs: exit 1"
assert_match "$out" "Another 'sockdctl scale web' is running" "saying so"
assert_match "$out" "/run/sockd/web.scale.lock" "naming the lock"
assert_eq "$(dropin)" "Workers=3" "the drop-in is untouched"
assert_eq "$(ct systemctl show -P Wants web.target | tr ' ' '\n' | grep -c '^web@')" 3 "web.target still wants 3"
ct systemctl stop scale-locker
rc=0; out=$(ct sockdctl scale web 3 2>&1) || rc=$?
assert_eq "$rc" 0 "once it is done, the next scale runs"

# ---- a reboot: the persisted count stays, a --runtime one is gone ----
rc=0; out=$(ct sockdctl scale web 4 --runtime 2>&1) || rc=$?
assert_eq "$rc" 0 "sockdctl scale web 4 --runtime"
assert_eq "$(ct grep '^Workers=' /run/sockd/web.conf.d/91-sockdctl-scale-runtime.conf)" Workers=4 "in a drop-in under /run"
assert_eq "$(serving)" 4 "four workers serve"
ct systemctl enable --quiet nginx.service
ct_reboot
ct_sh 'for i in $(seq 100); do [ "$(systemctl is-active web@2.service)" = active ] && break; sleep 0.1; done'
assert_eq "$(ct systemctl show -P Wants web.target | tr ' ' '\n' | grep -c '^web@')" 3 "after a reboot web.target wants the persisted 3"
ct test -e /run/sockd/web.conf.d/91-sockdctl-scale-runtime.conf && fail "the runtime drop-in is gone" || ok "the runtime drop-in is gone"
assert_eq "$(ct systemctl is-active web@0.service web@1.service web@2.service | sort -u)" active "three workers run"
assert_eq "$(ct systemctl is-active web@3.service)" inactive "the fourth does not"
rc=0; out=$(ct sockdctl scale web 2 --nginx="$upstream" 2>&1) || rc=$?
assert_eq "$rc" 0 "and the app scales after the reboot"
assert_eq "$(servers)" 2 "nginx follows"

sockd_assert_no_sanitizer_reports
ct_finish
