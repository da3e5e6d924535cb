# shellcheck shell=bash
# sockd-specific helpers for the integration tests, on top of lib.sh.

# sockd_install BUILD_DIR SOURCE_DIR: installs the build into the container (prefix
# as configured) and the test apps under /usr/local/share/sockd-test, where every user
# can read them (a clone under /root would not be).
sockd_install() {
	local build src f
	build=$(cd "$1" && pwd)
	src=$(cd "$2" && pwd)
	# From the host into the container's root: the build may be anywhere, also where
	# the container has a file system of its own (/tmp, /run).
	DESTDIR=$CT_BASE/root meson install -C "$build" --no-rebuild --quiet >/dev/null
	# A sanitizer build: leak checking needs ptrace, which the workers' seccomp filter
	# forbids, so only the unit suites check leaks; everything else is reported to the
	# journal, where sockd_assert_no_sanitizer_reports looks. The C example is built with
	# ASan too, and sockd-spawn preloads its library ahead of ASan's runtime, which ASan
	# refuses unless told not to check (sockd-spawn(8), THE PRELOAD LIBRARY).
	if [[ $(sockd_build_option "$build" b_sanitize) != none ]]; then
		ct_write /etc/systemd/system/service.d/50-sockd-sanitizers.conf <<'EOF2'
[Service]
Environment=ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
EOF2
	fi
	for f in pyapp.py envapp.py mixed.lua loadlog.py protoapp.py tcpapp.py; do
		ct_write "/usr/local/share/sockd-test/$f" 0755 <"$src/tests/apps/$f"
	done
	ct_write /usr/local/share/sockd-test/nodeapp.js 0644 <"$src/examples/node/server.js"
	ct_write /usr/local/share/sockd-test/app.py 0755 <"$src/examples/python/app.py"
	# What a package's postinst does: the runtime dirs exist right away, no reboot.
	ct systemd-tmpfiles --create sockd.conf
	ct systemctl daemon-reload
}

# sockd_nginx_conf: writes the test nginx config on the host and prints its path.
# Upstream settings as README recommends: max_fails=0 (a swap must never mark a
# worker down), keep-alive, and a keepalive_timeout shorter than the apps' own idle
# timeout, so nginx is always the side that closes idle connections.
sockd_nginx_conf() {
	local conf=$CT_BASE/nginx.conf i
	{
		cat <<'EOF2'
user www-data;
worker_processes 2;
error_log stderr warn;
events { worker_connections 2048; }
http {
    access_log off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    upstream myapp {
        server unix:/run/myapp/myapp.0.sock max_fails=0;
        server unix:/run/myapp/myapp.1.sock max_fails=0;
        server unix:/run/myapp/myapp.2.sock max_fails=0;
        keepalive 32;
        keepalive_timeout 4s;
    }
    upstream nodeapp {
        server unix:/run/nodeapp/nodeapp.0.sock max_fails=0;
        server unix:/run/nodeapp/nodeapp.1.sock max_fails=0;
        keepalive 32;
        keepalive_timeout 4s;
    }
EOF2
		for i in 0 1 2; do
			printf '    upstream myapp_w%d { server unix:/run/myapp/myapp.%d.sock max_fails=0; keepalive 16; keepalive_timeout 4s; }\n' "$i" "$i"
		done
		cat <<'EOF2'
    server {
        listen 127.0.0.1:8080;
        location / { proxy_pass http://myapp; }
        location /w0/ { proxy_pass http://myapp_w0; }
        location /w1/ { proxy_pass http://myapp_w1; }
        location /w2/ { proxy_pass http://myapp_w2; }
        location /node/ { proxy_pass http://nodeapp; }
    }
}
EOF2
	} >"$conf"
	echo "$conf"
}

# sockd_wait_generation GEN URL: the first response from URL that comes from
# generation GEN (idle keep-alive connections to the old one may answer first).
sockd_wait_generation() {
	local gen=$1 url=$2 out i
	for ((i = 0; i < 100; i++)); do
		out=$(ct curl -sf "$url") || true
		if [[ $out == *" generation=$gen "* ]]; then
			echo "$out"
			return 0
		fi
		sleep 0.1
	done
	echo "$out"
	return 1
}

# sockd_wait_handed_over UNIT...: until no old generation of the units is draining
# (HandoverSec= after a swap, then its drain); 15 s at most.
sockd_wait_handed_over() {
	local i
	for ((i = 0; i < 150; i++)); do
		ct systemctl show -P StatusText "$@" | grep -q 'draining: ' || return 0
		sleep 0.1
	done
	return 1
}

# sockd_wait_pid_change OLDPID URL: the first response not from OLDPID.
sockd_wait_pid_change() {
	local old=$1 url=$2 out i
	for ((i = 0; i < 150; i++)); do
		out=$(ct curl -sf "$url") || true
		if [[ -n $out && $out != *" pid=$old "* ]]; then
			echo "$out"
			return 0
		fi
		sleep 0.1
	done
	echo "$out"
	return 1
}

# sockd_assert_wrk_clean FILE DESC: wrk (with mixed.lua) saw requests and not one
# error of any kind.
sockd_assert_wrk_clean() {
	local file=$1 desc=$2 line
	line=$(ct grep '^sockd: ' "$file" || true)
	echo "# $desc: $line"
	assert_match "$line" '^sockd: requests=[1-9][0-9]* non2xx=0 connect=0 read=0 write=0 timeout=0 ' \
		"$desc: no failed request, no socket error"
}

# sockd_build_option BUILD_DIR NAME: a meson option's value in that build.
sockd_build_option() {
	meson introspect --buildoptions "$1" |
		python3 -c 'import json, sys; print(next(str(o["value"]) for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$2"
}

# sockd_assert_no_sanitizer_reports: nothing in the container's journal came from
# AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer.
sockd_assert_no_sanitizer_reports() {
	local reports
	ct_journal_sync
	reports=$(ct journalctl -b --no-pager -o cat | grep -E 'AddressSanitizer|LeakSanitizer|runtime error:' | head -n 20 || true)
	assert_eq "$reports" "" "no sanitizer report in the journal"
}

# sockd_nginx_conf_apps APP:WORKERS...: an nginx config with, per app, the upstream
# `sockdctl nginx APP` prints (so the tests prove that snippet) at /APP/, and one
# upstream per worker at /APP/wN/. The apps' units must be loaded. Prints the path.
sockd_nginx_conf_apps() {
	local conf=$CT_BASE/nginx-apps.conf spec app n i
	{
		printf '%s\n' 'user www-data;' 'worker_processes 2;' 'error_log stderr warn;' \
			'events { worker_connections 2048; }' 'http {' '    access_log off;' \
			'    proxy_http_version 1.1;' '    proxy_set_header Connection "";' \
			'    proxy_read_timeout 120s;'
		for spec in "$@"; do
			app=${spec%%:*} n=${spec##*:}
			ct sockdctl nginx "$app"
			for ((i = 0; i < n; i++)); do
				printf '    upstream %s_w%d { server unix:/run/%s/%s.%d.sock max_fails=0; keepalive 8; keepalive_timeout 4s; }\n' \
					"$app" "$i" "$app" "$app" "$i"
			done
		done
		printf '    server {\n        listen 127.0.0.1:8080;\n'
		for spec in "$@"; do
			app=${spec%%:*} n=${spec##*:}
			# as the snippet's location suggests
			printf '        location /%s/ { proxy_pass http://%s; proxy_next_upstream error timeout http_502; proxy_next_upstream_tries %d; }\n' "$app" "$app" "$n"
			for ((i = 0; i < n; i++)); do
				printf '        location /%s/w%d/ { proxy_pass http://%s_w%d; }\n' "$app" "$i" "$app" "$i"
			done
		done
		printf '    }\n}\n'
	} >"$conf"
	echo "$conf"
}

# sockd_field KEY TEXT: the value of KEY= in an app's response line.
sockd_field() {
	sed -n "s/.*[ ^]$1=\\([^ ]*\\).*/\\1/p" <<<" $2"
}

# ---- a fleet: several hosts over ssh, a load balancer in front (test-fleet.sh, bench) ----
declare -A SOCKD_FLEET_ADDR=()

# sockd_fleet_boot BUILD_DIR SOURCE_DIR HOST...: a private network; container "lb" (the
# operator's machine: sockd installed, an ssh key, ~/.ssh/config naming every HOST) and
# one container per HOST (sockd installed, sshd with that key, /run/sockd-test). For each
# HOST, the caller's function sockd_fleet_host HOST runs with that container current (to
# write the app's config and start it). Addresses: lb 10.77.0.10, the hosts .11 on.
sockd_fleet_boot() {
	local build=$1 src=$2 h i=11 pubkey
	shift 2
	ct_lan_create
	SOCKD_FLEET_ADDR[lb]=10.77.0.10
	ct_lan_attach lb 10.77.0.10
	ct_boot_as lb
	sockd_install "$build" "$src"
	ct mkdir -p /run/sockd-test
	ct_sh 'set -e; mkdir -p /root/.ssh; chmod 700 /root/.ssh; ssh-keygen -q -t ed25519 -N "" -f /root/.ssh/id_fleet'
	pubkey=$(ct cat /root/.ssh/id_fleet.pub)
	{
		printf 'Host %s\n  User root\n  IdentityFile /root/.ssh/id_fleet\n  StrictHostKeyChecking no\n' "$*"
		printf '  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  ConnectTimeout 5\n'
		for h in "$@"; do
			printf 'Host %s\n  HostName 10.77.0.%d\n' "$h" "$i"
			i=$((i + 1))
		done
	} | ct_write /root/.ssh/config 0600
	i=11
	for h in "$@"; do
		SOCKD_FLEET_ADDR[$h]=10.77.0.$i
		ct_lan_attach "$h" "10.77.0.$i"
		ct_boot_as "$h"
		sockd_install "$build" "$src"
		ct mkdir -p /run/sockd-test
		printf '%s\n' "$pubkey" | ct_write /root/.ssh/authorized_keys 0600
		# Debian's bash reads ~/.bashrc for every ssh command, and this machine's root
		# may set up a toolchain there (pyenv: a second of CPU): a host's root has none.
		printf '# a fleet host: nothing to set up for ssh commands\n' | ct_write /root/.bashrc
		ct chmod 700 /root/.ssh
		ct systemctl start ssh.service
		sockd_fleet_host "$h"
		i=$((i + 1))
	done
	ct_use lb
}

# sockd_fleet_nginx_conf LISTEN UPSTREAM_BLOCK: an nginx.conf (printed) that proxies
# everything on LISTEN to the upstream "up" defined by UPSTREAM_BLOCK, retrying an
# idempotent request on another server, as README's snippets do.
sockd_fleet_nginx_conf() {
	printf '%s\n' 'user www-data;' 'worker_processes 2;' 'error_log stderr warn;' \
		'events { worker_connections 4096; }' 'http {' '    access_log off;' '    proxy_read_timeout 120s;'
	printf '%s\n' "$2"
	printf '%s\n' '    server {' "        listen $1;" '        location / {' '            proxy_pass http://up;' \
		'            proxy_http_version 1.1;' '            proxy_set_header Connection "";' \
		'            proxy_next_upstream error timeout http_502;' '            proxy_next_upstream_tries 3;' \
		'        }' '    }' '}'
}

# sockd_fleet_host_nginx APP: on the current host, nginx on :8080 in front of APP's
# workers (the upstream 'sockdctl nginx APP' prints, named "up").
sockd_fleet_host_nginx() {
	sockd_fleet_nginx_conf 0.0.0.0:8080 "$(ct sockdctl nginx "$1" | sed "s/^upstream $1 {/upstream up {/")" \
		>"$CT_BASE/host-nginx.conf"
	ct_nginx_start "$CT_BASE/host-nginx.conf"
}

# sockd_fleet_lb HOST...: on lb, the load balancer on 127.0.0.1:8080 in front of every
# HOST's nginx.
sockd_fleet_lb() {
	local h up=$'    upstream up {\n'
	for h in "$@"; do
		up+="        server ${SOCKD_FLEET_ADDR[$h]}:8080 max_fails=0;"$'\n'
	done
	up+=$'        keepalive 32;\n        keepalive_timeout 4s;\n    }'
	ct_use lb
	sockd_fleet_nginx_conf 127.0.0.1:8080 "$up" >"$CT_BASE/lb-nginx.conf"
	ct_nginx_start "$CT_BASE/lb-nginx.conf"
}
