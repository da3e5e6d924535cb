#!/bin/bash
# The sockd demo: builds sockd, boots a throwaway systemd in a container (the host is
# not touched), serves the example Node app with 3 workers behind nginx over systemd-
# owned UNIX sockets, shows `systemctl status`, then reloads every worker and restarts
# the whole app with sockdctl while wrk sends GETs and POSTs through nginx, and prints
# the request counts and errors.
#
# Usage: bash demo/demo.sh   (as root: it mounts an overlay and runs systemd-nspawn)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)

if [[ $(id -u) != 0 ]]; then
	echo "demo: run as root (it boots systemd in a container): bash demo/demo.sh as root" >&2
	exit 2
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing build dependencies (apt-get, only what is missing)"
bash scripts/install-deps.sh

say "Building sockd"
[[ -d build-demo ]] || meson setup build-demo --buildtype=release >/dev/null
ninja -C build-demo

# shellcheck source=tests/integration/lib.sh
. tests/integration/lib.sh
# shellcheck source=tests/integration/sockd-lib.sh
. tests/integration/sockd-lib.sh

say "Booting a throwaway systemd $(systemctl --version | head -n1 | cut -d' ' -f2) in a container"
ct_boot
sockd_install build-demo "$src"

say "Writing /etc/sockd/hello.conf and starting hello.target"
# The installed example config says /usr/bin/node, Debian's path; use this machine's node.
sed "s|/usr/bin/node|$(command -v node)|" build-demo/examples/hello.conf | ct_write /etc/sockd/hello.conf
ct cat /etc/sockd/hello.conf
ct systemctl daemon-reload
ct systemctl start hello.target
ct ls -l /run/hello/

say "nginx in front: upstream of the three sockets"
conf=$CT_BASE/demo-nginx.conf
cat >"$conf" <<'EOF'
user www-data;
worker_processes 2;
error_log stderr warn;
events { worker_connections 2048; }
http {
    access_log off;
    upstream hello {
        server unix:/run/hello/hello.0.sock max_fails=0;
        server unix:/run/hello/hello.1.sock max_fails=0;
        server unix:/run/hello/hello.2.sock max_fails=0;
        keepalive 32;
        keepalive_timeout 4s;
    }
    server {
        listen 127.0.0.1:8080;
        location / {
            proxy_pass http://hello;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
ct_nginx_start "$conf"
for _ in 1 2 3; do ct curl -s http://127.0.0.1:8080/; done

say "systemctl status hello@1"
ct systemctl status --no-pager --lines=5 hello@1.service || true

say "Reloading each worker, then restarting the whole app, while wrk sends GET and POST through nginx (14 s)"
ct_sh 'wrk -t2 -c32 -d14s -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/ >/run/demo-wrk.txt 2>&1 &'
sleep 3
for i in 0 1 2; do
	start=$(date +%s.%N)
	ct systemctl reload "hello@$i"
	printf 'systemctl reload hello@%d: done in %.2f s, %s\n' "$i" "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" \
		"$(ct systemctl show -P StatusText "hello@$i.service")"
done
sleep 2
echo "sockdctl restart hello (all-or-nothing: three new generations, then the switch):"
ct sockdctl restart hello
ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'

say "wrk through nginx during the reloads and the restart"
ct cat /run/demo-wrk.txt
summary=$(ct grep '^sockd: ' /run/demo-wrk.txt)
read -r requests non2xx errors < <(sed -E 's/.*requests=([0-9]+) non2xx=([0-9]+) connect=([0-9]+) read=([0-9]+) write=([0-9]+) timeout=([0-9]+).*/\1 \2 \3+\4+\5+\6/' <<<"$summary" | awk '{ split($3, e, "+"); print $1, $2, e[1]+e[2]+e[3]+e[4] }')
printf '\nrequests: %s   non-2xx responses: %s   socket errors: %s\n' "$requests" "$non2xx" "$errors"

say "sockdctl status hello: every worker now serves generation 3"
ct sockdctl status hello

say "Powering the container off"
ct_shutdown
if [[ $non2xx == 0 && $errors == 0 ]]; then
	echo "demo: zero failed requests across three reloads and one app restart."
else
	echo "demo: $non2xx non-2xx responses and $errors socket errors." >&2
	exit 1
fi
