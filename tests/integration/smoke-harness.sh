#!/bin/bash
# Smoke test of the integration harness (lib.sh): boots a real systemd in a
# container and checks the things sockd's integration tests rely on: cgroup v2,
# socket activation of a unit pair in /run/systemd/system, curl over a unix
# socket, a private nginx proxying to it, wrk, the journal inside. It also
# pins down two facts about logging inside the container (see "findings").
#
# Needs root; exits 77 (skip) otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

ct_require_root_or_skip

# A generator that is present at boot, to see where its stderr goes when PID 1
# runs it during start-up (as opposed to on daemon-reload, tested below).
ct_pre_boot() {
	local root=$1
	mkdir -p "$root/etc/systemd/system-generators"
	cat >"$root/etc/systemd/system-generators/sockd-boot-probe" <<'EOF'
#!/bin/sh
echo "sockd-bootgen-stderr: generator stderr at boot" >&2
touch "$1/sockd-bootgen-ran"
EOF
	chmod 0755 "$root/etc/systemd/system-generators/sockd-boot-probe"
}

ct_boot

# (checked before any daemon-reload, which would re-run it)
if ct test -e /run/systemd/generator/sockd-bootgen-ran; then
	ok "boot-time generator (installed by ct_pre_boot) ran at boot"
else
	fail "boot-time generator (installed by ct_pre_boot) ran at boot"
fi

# --------------------------------------------------------------- basics
state=$(ct systemctl is-system-running || true)
assert_match "$state" '^(running|degraded)$' "system is running (state: $state)"
if [[ $state == degraded ]]; then
	ct systemctl --failed --no-pager | sed 's/^/# /'
fi

assert_eq "$(ct stat -fc %T /sys/fs/cgroup)" cgroup2fs "container has cgroup v2 (unified hierarchy)"
assert_eq "$(ct systemctl show -P Virtualization)" systemd-nspawn "systemd inside detects nspawn"
assert_match "$(ct ip -o -4 addr show)" '^[0-9]+: lo +inet 127\.0\.0\.1/8' "private network: loopback only"
if [[ $(ct ip -o link show | wc -l) == 1 ]]; then
	ok "private network: no other interfaces"
else
	fail "private network: no other interfaces"
fi

# Host env must not leak into `ct`.
leak=$(NOTIFY_SOCKET=/leak LISTEN_FDS=9 LISTEN_PID=1 ct env | grep -E '^(NOTIFY_SOCKET|LISTEN_)' || true)
assert_eq "$leak" "" "NOTIFY_SOCKET/LISTEN_* from the host do not leak into ct"

# ------------------------------------------------------- gotcha checks
case $here/ in
/tmp/* | /run/* | /dev/shm/*)
	# A checkout where the container has a file system of its own: the tests copy
	# what they need in (sockd_install, ct_write), never read it there.
	if ct test -r "$here/lib.sh"; then
		fail "a host tree under ${here%%/*/*}/ is not visible inside ($here)"
	else
		ok "a host tree under /tmp, /run or /dev/shm is not visible inside ($here)"
	fi
	;;
*)
	if ct test -r "$here/lib.sh"; then
		ok "host tree visible inside at the same path ($here)"
	else
		fail "host tree visible inside at the same path ($here)"
	fi
	;;
esac
marker=/tmp/sockd-host-marker.$$
echo host >"$marker"
if ct test -e "$marker"; then
	fail "host /tmp is not visible inside (container /tmp is its own tmpfs)"
else
	ok "host /tmp is not visible inside (container /tmp is its own tmpfs)"
fi
rm -f "$marker"
assert_eq "$(ct findmnt -no FSTYPE /tmp)" tmpfs "container /tmp is a tmpfs"
echo via-ct-write | ct_write /var/lib/sockd-smoke/probe.txt
assert_eq "$(cat "$CT_BASE/root/var/lib/sockd-smoke/probe.txt")" via-ct-write \
	"ct_write file readable from the host at \$CT_BASE/root/PATH"
if [[ ! -e /var/lib/sockd-smoke/probe.txt ]]; then
	ok "ct_write does not touch the host's file system"
else
	fail "ct_write does not touch the host's file system"
fi
if ct useradd --system --no-create-home --shell /usr/sbin/nologin sockd-smoke &&
	[[ $(ct id -u sockd-smoke) =~ ^[0-9]+$ ]] && ! getent passwd sockd-smoke >/dev/null; then
	ok "useradd works inside and leaves the host's passwd alone"
else
	fail "useradd works inside and leaves the host's passwd alone"
fi
if ct_sh 'touch /var/log/nginx/sockd-smoke && rm /var/log/nginx/sockd-smoke'; then
	ok "/var/log/nginx writable inside"
else
	fail "/var/log/nginx writable inside"
fi

# ------------------------------------------------- socket activation
ct_write /usr/local/lib/sockd-smoke/server.py <<'EOF'
# Minimal socket-activated HTTP server: serves on the listening socket that
# systemd passes as fd 3 (LISTEN_FDS=1).
import http.server, os, socket, socketserver

assert os.environ.get("LISTEN_PID") == str(os.getpid()), "not socket-activated"
assert os.environ.get("LISTEN_FDS") == "1", "expected exactly one fd"

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"hello from smoke\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    address_family = socket.AF_UNIX

srv = Server("smoke", Handler, bind_and_activate=False)
srv.socket.close()
srv.socket = socket.socket(fileno=3)
print("smoke server: serving on fd 3", flush=True)
srv.serve_forever()
EOF

ct_write /run/systemd/system/smoke.socket <<'EOF'
[Unit]
Description=sockd harness smoke socket

[Socket]
ListenStream=/run/smoke/smoke.sock
SocketMode=0666
EOF
ct_write /run/systemd/system/smoke.service <<'EOF'
[Unit]
Description=sockd harness smoke server
Requires=smoke.socket
After=smoke.socket

[Service]
ExecStart=/usr/bin/python3 /usr/local/lib/sockd-smoke/server.py
EOF
ct systemctl daemon-reload
ct systemctl start smoke.socket
assert_eq "$(ct systemctl is-active smoke.socket || true)" active "smoke.socket active"
assert_eq "$(ct systemctl is-active smoke.service || true)" inactive "smoke.service not started before first connection"
if ct test -S /run/smoke/smoke.sock; then
	ok "systemd created /run/smoke/smoke.sock"
else
	fail "systemd created /run/smoke/smoke.sock"
fi

body=$(ct curl -sS --max-time 10 --unix-socket /run/smoke/smoke.sock http://smoke/ 2>&1 || true)
assert_eq "$body" "hello from smoke" "curl --unix-socket gets the response (socket activation)"
if ct_wait_active smoke.service 10; then
	ok "smoke.service active after the first connection"
else
	fail "smoke.service active after the first connection"
	ct_dump_unit smoke.service
fi

# ---------------------------------------------------------------- nginx
ct_write /run/sockd-smoke/nginx.conf <<'EOF'
worker_processes 1;
error_log stderr warn;
events { worker_connections 256; }
http {
    access_log off;
    upstream smoke { server unix:/run/smoke/smoke.sock; }
    server {
        listen 127.0.0.1:8080;
        location / { proxy_pass http://smoke; }
    }
}
EOF
if ct_nginx_start /run/sockd-smoke/nginx.conf; then
	ok "ct_nginx_start"
else
	fail "ct_nginx_start"
fi
assert_eq "$(ct systemctl is-active nginx.service || true)" inactive "distro nginx.service not running"
body=$(ct curl -sS --max-time 10 http://127.0.0.1:8080/ 2>&1 || true)
assert_eq "$body" "hello from smoke" "curl through nginx :8080 -> unix socket"

wrk_out=$(ct wrk -t1 -c4 -d2s http://127.0.0.1:8080/ 2>&1 || true)
printf '%s\n' "$wrk_out" | sed 's/^/#   wrk: /'
rps=$(printf '%s\n' "$wrk_out" | awk '/^Requests\/sec:/ {print int($2)}')
if [[ -n $rps && $rps -gt 50 ]] && ! grep -qE 'Non-2xx|Socket errors' <<<"$wrk_out"; then
	ok "wrk through nginx: $rps req/s, no errors"
else
	fail "wrk through nginx (rps=${rps:-none})"
	ct_dump_unit sockd-test-nginx.service
	ct_dump_unit smoke.service
fi
ct_nginx_stop
assert_eq "$(ct systemctl is-active sockd-test-nginx.service || true)" inactive "ct_nginx_stop"

# -------------------------------------------------------------- journal
journal=$(ct journalctl -b --no-pager -o cat -u smoke.service)
assert_match "$journal" 'smoke server: serving on fd 3' "journalctl inside shows the service's stdout"
ct logger -t sockd-smoke "logger-probe-$$"
ct_journal_sync
assert_match "$(ct journalctl -b --no-pager -o cat -t sockd-smoke)" "logger-probe-$$" "syslog(3) messages reach the journal"

# ------------------------------------------------------------- findings
# 1. /dev/kmsg does not exist in an nspawn container: `echo ... > /dev/kmsg`
#    "succeeds" but creates a regular file on the container's /dev tmpfs, and
#    nothing reaches the journal (journalctl -b and -k find nothing).
if ct test -c /dev/kmsg; then kmsg_dev=yes; else kmsg_dev=no; fi
assert_eq "$kmsg_dev" no "finding: no /dev/kmsg char device inside"
ct_sh 'echo "<3>sockd-probe: hello" > /dev/kmsg' || true
ct_journal_sync
hits=$(ct journalctl -b --no-pager -o cat --grep sockd-probe 2>/dev/null || true)
hits+=$(ct journalctl -k -b --no-pager -o cat --grep sockd-probe 2>/dev/null || true)
assert_eq "$hits" "" "finding: text written to /dev/kmsg inside is NOT in journalctl -b / -k"
ct rm -f /dev/kmsg

# 2. Generators: PID 1's stdin/stdout/stderr are /dev/null inside the
#    container and generators inherit that stderr (stdout too; their output
#    dirs are $1..$3), so a generator's stderr is lost, at boot and on
#    daemon-reload alike: it is neither in the journal nor in the nspawn log.
#    What does work: systemd-cat/logger (journal, at least on daemon-reload,
#    when journald is up) and /dev/console (the nspawn log, $CT_BASE/log,
#    thanks to --console=read-only). To see a generator's diagnostics in a
#    test, run it directly: ct /path/to/generator /run/a /run/b /run/c
ct_write /run/systemd/system-generators/sockd-probe 0755 <<'EOF'
#!/bin/sh
echo "sockd-gen-stderr: generator stderr on reload" >&2
echo "sockd-gen-console: generator to console" >/dev/console
echo "sockd-gen-cat: generator via systemd-cat" | systemd-cat -t sockd-gen
ls -l /proc/self/fd/2 >"$1/sockd-probe-fd2"
EOF
ct systemctl daemon-reload
ct_journal_sync
all=$(ct journalctl -b --no-pager -o cat 2>/dev/null || true)
if [[ $all == *sockd-gen-stderr* || $all == *sockd-bootgen-stderr* ]]; then
	fail "finding: generator stderr is not in the journal"
else
	ok "finding: generator stderr is not in the journal (boot and daemon-reload)"
fi
assert_match "$(ct cat /run/systemd/generator/sockd-probe-fd2)" '-> /dev/null$' \
	"finding: generators run with stderr on /dev/null"
assert_match "$(ct journalctl -b --no-pager -o cat -t sockd-gen)" 'generator via systemd-cat' \
	"finding: generator output via systemd-cat is in journalctl -t IDENT"
if grep -aq 'sockd-gen-console: generator to console' "$CT_BASE/log"; then
	ok "finding: generator writes to /dev/console land in \$CT_BASE/log"
else
	fail "finding: generator writes to /dev/console land in \$CT_BASE/log"
fi
if grep -aq sockd-gen-stderr "$CT_BASE/log" || grep -aq sockd-bootgen-stderr "$CT_BASE/log"; then
	fail "finding: generator stderr is not in \$CT_BASE/log either"
else
	ok "finding: generator stderr is not in \$CT_BASE/log either"
fi

# ------------------------------------------- a build the container cannot see
# README's commands must work from any checkout, also one under /tmp, which the
# container has a tmpfs of its own for: sockd_install copies from the host.
if [[ -n ${1-} && -f $1/build.ninja ]]; then
	# shellcheck source-path=SCRIPTDIR source=sockd-lib.sh
	. "$here/sockd-lib.sh"
	build=$(cd "$1" && pwd)
	src=$(cd "$here/../.." && pwd)
	under_tmp=$(mktemp -d /tmp/sockd-build.XXXXXX)
	mount --bind "$build" "$under_tmp"
	if ct test -e "$under_tmp/build.ninja"; then fail "(the container must not see $under_tmp)"; fi
	if sockd_install "$under_tmp" "$src"; then ok "sockd_install works from a build under /tmp"; else fail "sockd_install works from a build under /tmp"; fi
	umount "$under_tmp"
	rmdir "$under_tmp"
	bindir=$(sockd_build_option "$build" prefix)/$(sockd_build_option "$build" bindir)
	assert_match "$(ct "$bindir/sockdctl" --version)" '^sockd ' "and sockdctl runs in the container"
else
	echo "# no build directory given: sockd_install is not tried"
fi

ct_finish
