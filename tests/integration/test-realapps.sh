#!/bin/bash
# Real servers nobody here wrote, run unmodified under sockd behind nginx: Express 5 from
# the npm registry, uvicorn, gunicorn and Puma from Debian, and a Node app that speaks its
# own readiness message and answers 503 while it warms up. For each: the first requests,
# made while it starts, are 200s (the readiness gate), its view of the world is the one it
# asked for, then `systemctl reload` and `sockdctl restart` under a GET+POST load. Every
# app's failed requests are printed (measured), and asserted to be zero.
#
# Usage: test-realapps.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: test-realapps.sh BUILD_DIR}
build=$(cd "$build" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$here/sockd-lib.sh"

ct_require_root_or_skip

# Installed by scripts/install-deps.sh: missing means a broken setup, not a skip.
node=$(command -v node || true)
npm=$(command -v npm || true)
for need in "$node" "$npm" /usr/bin/gunicorn /usr/bin/puma; do
	[[ -n $need && -x $need ]] || {
		echo "test-realapps: ${need:-node or npm} is missing: run scripts/install-deps.sh" >&2
		exit 1
	}
done
/usr/bin/python3 -c 'import uvicorn' || {
	echo "test-realapps: python3-uvicorn is missing: run scripts/install-deps.sh" >&2
	exit 1
}

# Express from the npm registry, on the host: the container has no network. The lock
# file pins what is installed; `npm ci` runs again only when it changed.
express=$build/realapps/express
mkdir -p "$express"
cp "$src/tests/apps/express/package.json" "$src/tests/apps/express/server.js" "$express/"
if ! cmp -s "$src/tests/apps/express/package-lock.json" "$express/package-lock.json" ||
	[[ ! -f $express/node_modules/express/package.json ]]; then
	cp "$src/tests/apps/express/package-lock.json" "$express/"
	(cd "$express" && "$npm" ci --no-audit --no-fund --loglevel=error)
fi
express_version=$("$node" -p "require('$express/node_modules/express/package.json').version")
echo "# express $express_version, node $("$node" --version), uvicorn $(/usr/bin/python3 -c 'import uvicorn; print(uvicorn.__version__)')," \
	"$(/usr/bin/gunicorn --version 2>&1), $(/usr/bin/puma --version 2>&1)"

ct_boot
sockd_install "$build" "$src"
mkdir -p "$CT_BASE/root/srv"
cp -a "$express" "$CT_BASE/root/srv/express"
for f in asgi_app.py wsgi_app.py config.ru ipc-ready.js nodesockd-app.js; do
	ct_write "/srv/apps/$f" 0644 <"$src/tests/apps/$f"
done

# The configs a user writes for these apps, as README's "Run an app as it is" shows them:
# each app runs as a user of its own, which owns its sockets, so that sockd-spawn can
# relay the connections the app closes while it drains.
for app in express uvicorn-fd uvicorn-port gunicorn puma ipc-ready nodesockd; do
	ct useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$app"
done
ct_write /etc/sockd/express.conf <<EOF
; app.listen(3000), started the way its package.json says
[App]
Exec=$npm start
WorkingDirectory=/srv/express
Listen=tcp:*:3000
Ready=listen
Workers=2
User=express
EOF
ct_write /etc/sockd/uvicorn-fd.conf <<'EOF'
; uvicorn serves the socket it is given
[App]
Exec=/usr/bin/python3 -m uvicorn --fd 3 asgi_app:app
WorkingDirectory=/srv/apps
Ready=listen
Workers=2
User=uvicorn-fd
EOF
ct_write /etc/sockd/uvicorn-port.conf <<'EOF'
; uvicorn binds its own port
[App]
Exec=/usr/bin/python3 -m uvicorn --host 127.0.0.1 --port 8000 asgi_app:app
WorkingDirectory=/srv/apps
Listen=tcp:127.0.0.1:8000
Ready=listen
Workers=2
User=uvicorn-port
EOF
ct_write /etc/sockd/gunicorn.conf <<'EOF'
; gunicorn's master binds, its two workers inherit
[App]
Exec=/usr/bin/gunicorn -b 127.0.0.1:8001 -w 2 wsgi_app:app
WorkingDirectory=/srv/apps
Listen=tcp:127.0.0.1:8001
Ready=listen
Workers=2
User=gunicorn
EOF
ct_write /etc/sockd/puma.conf <<'EOF'
; Puma in cluster mode: the master binds, its two workers inherit
[App]
Exec=/usr/bin/puma -b tcp://127.0.0.1:9292 -w 2 /srv/apps/config.ru
Listen=tcp:127.0.0.1:9292
Ready=listen
Workers=2
User=puma
EOF
ct_write /etc/sockd/ipc-ready.conf <<EOF
; process.send({ ready: true }) after 1.5 s of 503s
[App]
Exec=$node /srv/apps/ipc-ready.js
Listen=tcp:*:4000
Ready=node-ipc
ReadyMessage={"ready":true}
Workers=2
User=ipc-ready
EOF
ct_write /etc/sockd/nodesockd.conf <<EOF
; an app written for nodesockd: server.listen(nodesockd.socketPath), reportOnline(),
; on('shutdown'), suspendMiddleware; the path is any, the bind of it is adopted
[App]
Exec=$node /srv/apps/nodesockd-app.js
Listen=unix:/run/nodesockd/app.sock
Ready=node-ipc
Suspend=hold
Workers=2
User=nodesockd
EOF
ct systemctl daemon-reload

apps=(${REALAPPS_ONLY:-express uvicorn-fd uvicorn-port gunicorn puma ipc-ready nodesockd})
specs=()
for app in "${apps[@]}"; do
	[[ " ${specs[*]} " == *" $app:2 "* ]] || specs+=("$app:2")
done
ct_nginx_start "$(sockd_nginx_conf_apps "${specs[@]}")"

# A worker's pid, from its answer through its own upstream.
worker_pid() {
	sockd_field pid "$(ct curl -sf -m 10 "http://127.0.0.1:8080/$1/w$2/")"
}

declare -A port=([express]=3000 [uvicorn-port]=8000 [ipc-ready]=4000)
declare -A says=([express]=express [uvicorn-fd]=uvicorn [uvicorn-port]=uvicorn [gunicorn]=gunicorn [puma]=puma
	[ipc-ready]=ipc-ready [nodesockd]=nodesockd)
summary=()
for app in "${apps[@]}"; do
	echo "# ---- $app"
	# Only the sockets: the first requests start the workers (socket activation) and
	# wait in the backlog until the app is ready, whatever it answers before.
	ct systemctl start "$app@0.socket" "$app@1.socket"
	ct_sh "for i in 1 2 3 4; do curl -s -m 60 -o /dev/null -w '%{http_code}\n' -d first http://127.0.0.1:8080/$app/ & done; wait" >"$CT_BASE/first.txt"
	assert_eq "$(sort -u "$CT_BASE/first.txt")" 200 "$app: the first requests, made while it starts, are all 200"
	ct systemctl start "$app.target"

	reply=$(ct curl -sf -m 10 "http://127.0.0.1:8080/$app/w0/")
	assert_match "$reply" "^app=${says[$app]} pid=[0-9]+ ip=(127\\.0\\.0\\.1|::ffff:127\\.0\\.0\\.1|-|undefined) " "$app: served, unmodified, through nginx: $reply"
	if [[ -n ${port[$app]-} ]]; then
		assert_match "$reply" " ip=(::ffff:)?127\\.0\\.0\\.1 port=${port[$app]} " \
			"$app: its peers are loopback, its socket has the port it bound"
	fi
	assert_match "$(ct curl -sf -m 10 -d hello "http://127.0.0.1:8080/$app/w1/")" " method=POST body=5$" "$app: POST"

	# systemctl reload every worker, then sockdctl restart, under GET+POST load.
	old0=$(worker_pid "$app" 0) old1=$(worker_pid "$app" 1)
	since=$(ct date +%s)
	ct_sh "wrk -t2 -c16 -d12s -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/$app/ >/run/wrk-$app.txt 2>&1 &"
	sleep 1
	if ct systemctl reload "$app@0.service" "$app@1.service"; then
		ok "$app: systemctl reload under load"
	else
		fail "$app: systemctl reload under load"
	fi
	# Until the old generations have drained, a connection nginx still holds to one (or a
	# relay that one accepted before it closed its socket) may get its answer: wait.
	for _ in $(seq 50); do
		new0=$(worker_pid "$app" 0) new1=$(worker_pid "$app" 1)
		[[ -n $new0 && -n $new1 && $new0 != "$old0" && $new1 != "$old1" ]] && break
		sleep 0.2
	done
	if [[ -n $new0 && -n $new1 && $new0 != "$old0" && $new1 != "$old1" ]]; then
		ok "$app: both workers serve a new generation after the reload"
	else
		fail "$app: both workers serve a new generation after the reload ($old0 $old1 -> $new0 $new1)"
	fi
	if ct sockdctl -q restart "$app"; then ok "$app: sockdctl restart under load"; else fail "$app: sockdctl restart under load"; fi
	ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'
	summary+=("$app: $(ct grep '^sockd: ' "/run/wrk-$app.txt" || echo 'no wrk summary')")
	# What nginx saw of the failures, if any: the cause to look for.
	ct journalctl -b --no-pager -o cat -u "$CT_NGINX_UNIT" --since "@$since" | grep -E '\[error\]' | grep -F "/run/$app/" |
		sed -E 's/^[0-9/: ]+\[error\] [0-9#]+: \*[0-9]+ //; s/, client: .*(request: "[A-Z]+)[^"]*".*upstream: "([^"]*)".*/ (\1 via \2)/' |
		sort | uniq -c | sort -rn | head -n 5 | sed "s/^/# $app: nginx: /" || true
	# And, when some failed, what sockd, the app and nginx said meanwhile, in order.
	if ! ct grep -q '^sockd: requests=[1-9][0-9]* non2xx=0 connect=0 read=0 write=0 timeout=0 ' "/run/wrk-$app.txt"; then
		ct journalctl -b --no-pager -o short-precise -u "$app@*.service" -u "$CT_NGINX_UNIT" -u init.scope --since "@$since" |
			grep -vE 'is ready\.$|bound .* \(Listen=\)' | cut -c1-300 | tail -n 80 | sed "s/^/# $app: journal: /" || true
	fi
	sockd_assert_wrk_clean "/run/wrk-$app.txt" "$app: reload and restart under load"
	assert_eq "$(ct journalctl -b --no-pager -o cat -u "$app@*.service" | grep -c 'bound .* (Listen=) and got' || true)" \
		"$(if [[ -n $(ct sed -n 's/^Listen=//p' "/etc/sockd/$app.conf") ]]; then echo 6; else echo 0; fi)" \
		"$app: every generation (2 workers x 3) adopted its bind, or none without Listen="
	if [[ $app == nodesockd ]]; then
		# nodesockd's suspended restart: the new generation starts held
		# (nodesockd.suspended, its suspendMiddleware), and 'resume' releases it.
		before=$(worker_pid "$app" 0)
		ct sockdctl -q restart --suspended "$app"
		ct_sh "curl -sf -m 30 http://127.0.0.1:8080/$app/w0/ >/run/held-$app.txt 2>&1 &"
		sleep 1
		assert_eq "$(ct cat "/run/held-$app.txt")" "" "$app: a request during the suspension is held by nodesockd's middleware"
		ct sockdctl -q resume "$app"
		ct_sh 'while pgrep -x curl >/dev/null; do sleep 0.1; done'
		reply=$(ct cat "/run/held-$app.txt")
		assert_match "$reply" "^app=nodesockd pid=[0-9]+ " "$app: after resume the held request is answered"
		held_by=$(sockd_field pid "$reply")
		if [[ -n $held_by && $held_by != "$before" && $held_by == "$(worker_pid "$app" 0)" ]]; then
			ok "$app: by the new generation, which serves from then on"
		else
			fail "$app: by the new generation, which serves from then on ($before -> $held_by)"
		fi
	fi
	ct systemctl stop "$app.target" "$app@0.socket" "$app@1.socket"
done

echo "# Failed requests per app (wrk, GET+POST, one reload and one restart of 2 workers):"
printf '#   %s\n' "${summary[@]}"
sockd_assert_no_sanitizer_reports
ct_finish
