# shellcheck shell=bash
#
# tests/integration/lib.sh - boot a real, isolated systemd (252) in a
# systemd-nspawn container for sockd integration tests.
#
# Usage (from a test script):
#
#   #!/bin/bash
#   set -euo pipefail
#   . "$(dirname "$0")/lib.sh"
#   ct_require_root_or_skip
#   ct_boot                       # installs an EXIT trap that calls ct_shutdown
#   assert_eq "$(ct systemctl is-active dbus.socket)" active "dbus.socket active"
#   ct_finish                     # shuts down, prints "N passed, N failed"
#
# ct_boot must be called from the main shell (not inside $(...) or a pipeline):
# it starts systemd-nspawn as a background child of that shell, sets global
# variables and installs the EXIT/INT/TERM/HUP traps there (replacing any EXIT
# trap of the test: do test cleanup before ct_finish, or inside the
# container, which is thrown away anyway).
#
# Gotchas:
#   * systemd-nspawn is a background job of the test script (%1): never
#     `kill %1`, and never a bare `wait` (it waits for nspawn, i.e. forever);
#     use `cmd & pid=$!; ...; wait "$pid"`.
#   * Do not kill a running `ct ...` from outside (e.g. `timeout 5 ct cmd`):
#     nsenter's child inside becomes a zombie that nobody in the container can
#     reap, and poweroff then stalls ~10 s. Put the timeout inside instead:
#     `ct timeout 5 cmd`.
#   * Commands run with `ct` live in the container's namespaces but not in a
#     unit: a daemon started with `ct foo &` is not supervised by the
#     container's systemd. Start long-running things with `ct systemd-run`
#     (see ct_nginx_start) or real units.
#   * /dev/kmsg does not exist inside: `echo ... >/dev/kmsg` creates a plain
#     file and nothing reaches the journal (journalctl -b / -k).
#   * PID 1's stdio is /dev/null inside, and generators inherit its stderr:
#     a generator's stderr is lost (at boot and on daemon-reload; neither in
#     the journal nor in $CT_BASE/log). Writes to /dev/console land in
#     $CT_BASE/log, systemd-cat/logger output in the journal. To see a
#     generator's messages, run it directly: ct /path/gen /run/a /run/b /run/c
#   * The container has the host's machine-id and hostname (/etc is the
#     host's), so journal entries show the host name; nspawn logs "Host and
#     machine ids are equal ... refusing to link journals" (harmless).
#
# How the container is built: the host's / is mounted read-through as the
# lower layer of an overlayfs at $CT_BASE/root (upper layer in
# $CT_BASE/upper), and systemd-nspawn --boot runs the host's own systemd on it
# with a private network namespace (own loopback only), cgroup v2 and no
# registration with a (non-existent) host systemd/machined. Every write inside
# ends in $CT_BASE/upper; the host stays untouched. Everything is removed by
# ct_shutdown.
#
# Where to put files that the test and the container both need to see
# (checked on this machine with systemd 252, see smoke-harness.sh):
#   * /tmp, /run, /dev/shm, /proc, /sys, /dev inside the container are the
#     container's own (nspawn mounts a fresh tmpfs on /tmp and /run): the
#     host's /tmp is NOT visible inside, and files the container writes to its
#     /tmp are not visible on the host.
#   * Preferred: ct_write /some/path <file   (or: ct_sh 'cat > /x' <file).
#     It writes through the container's own view, creates parent dirs, and
#     works for any path, including /run/systemd/system/*.
#   * The host's persistent paths (/work/main, /usr, /etc, ...) are visible
#     inside at the same path via the overlay's lower layer, so a build tree is
#     readable inside (e.g. `ct meson install -C /work/main/build`). Files
#     created or changed on the host AFTER ct_boot did show up inside in a
#     quick check, but overlayfs calls changes to the lower layer while
#     mounted undefined behaviour: build before booting, or copy in with
#     ct_write.
#   * From the host, "$CT_BASE/root/PATH" is the container's view of PATH for
#     paths on the overlay (not for /tmp, /run, /dev, /proc, /sys, which are
#     separate mounts in the container's mount namespace). To read a file the
#     container wrote to /tmp or /run use `ct cat /run/...`.
#
# Environment knobs:
#   CT_BOOT_TIMEOUT   seconds to wait for is-system-running (default 60)
#   CT_MASK_UNITS     units masked in the container before boot, to keep host
#                     services that are irrelevant for sockd from starting
#                     (default: "nginx.service postgresql.service")
#   ct_pre_boot       if the test defines a function of this name, ct_boot
#                     calls it as `ct_pre_boot ROOT` after mounting the
#                     overlay and before booting; ROOT is the container's /
#                     seen from the host (e.g. install a generator there).
#   CT_KEEP=1         do not remove $CT_BASE on shutdown (debugging; the
#                     overlay is still unmounted; rm -rf it yourself)
#   CT_NETWORK_ARGS   systemd-nspawn's network options for the next boot
#                     (default --private-network; ct_lan_attach sets them)
#
# Several hosts: ct_boot_as NAME boots one more container and makes it the current
# one; ct_use NAME makes another current; ct, ct_sh, ct_write... act on the current
# one; the EXIT trap and ct_finish shut them all down. ct_lan_create and
# ct_lan_attach NAME ADDR give them a private network of their own: a bridge in a
# network namespace, and one namespace per container on it (10.x addresses, /24).

# Clean environment for everything run inside the container, so that host
# variables such as NOTIFY_SOCKET, LISTEN_FDS, LISTEN_PID, INVOCATION_ID or
# SYSTEMD_* cannot leak into the commands we run there.
CT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

CT_BASE=${CT_BASE-}
CT_LEADER=${CT_LEADER-}
CT_NSPAWN_PID=
CT_MACHINE=
CT_PASSED=0
CT_FAILED=0
CT_NUM=0
CT_FINISHED=0
CT_T_START=${EPOCHREALTIME/[.,]/}
CT_BOOT_USEC=
CT_NETWORK_ARGS=${CT_NETWORK_ARGS:---private-network}
CT_SLOT=
declare -A CT__SLOTS=()
CT_LAN=
CT__LAN_N=0
CT_NGINX_UNIT=sockd-test-nginx.service
CT_NGINX_PID_FILE=/run/sockd-test-nginx.pid

# ---------------------------------------------------------------- internals

# Microseconds since the epoch (bash 5 $EPOCHREALTIME, locale-proof).
ct__now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }

# "1234567" microseconds -> "1.234"
ct__fmt_us() { printf '%d.%03d' "$(($1 / 1000000))" "$((($1 % 1000000) / 1000))"; }

ct__log() { printf '# %s\n' "$*" >&2; }

# True if PID exists and is not a zombie (our own exited background children
# stay zombies until waited for, and kill -0 succeeds on zombies).
ct__alive() {
	local pid=$1 stat
	[[ -n $pid ]] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# Start time of PID (clock ticks since boot, /proc/PID/stat field 22), to
# recognise a recorded pid later despite pid reuse. Empty if PID is gone.
ct__starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	# fields after "comm)": state is field 3, so starttime is word 20 here
	# shellcheck disable=SC2086 # word splitting wanted
	set -- $stat
	echo "${20}"
}

# Wait (bounded) until PID is gone. $2 = timeout in tenths of a second.
ct__wait_gone() {
	local pid=$1 tenths=$2 i
	for ((i = 0; i < tenths; i++)); do
		ct__alive "$pid" || return 0
		sleep 0.1
	done
	! ct__alive "$pid"
}

ct__exit_trap() {
	local rc=$1
	trap - EXIT
	if [[ $CT_FINISHED == 0 && $rc != 0 && $rc != 77 ]]; then
		CT_NUM=$((CT_NUM + 1))
		CT_FAILED=$((CT_FAILED + 1))
		printf 'not ok %d - test script aborted (exit status %d)\n' "$CT_NUM" "$rc"
		ct__shutdown_all || true
		printf '%d passed, %d failed\n' "$CT_PASSED" "$CT_FAILED"
	else
		ct__shutdown_all || true
	fi
	exit "$rc"
}

# ------------------------------------------------------------------- public

# ct_require_root_or_skip: exit 77 (the meson/automake "skipped" code) with a
# loud SKIP line unless we are root and systemd-nspawn + nsenter are present.
ct_require_root_or_skip() {
	local why="" tool
	if [[ $(id -u) != 0 ]]; then
		why="not running as root (need CAP_SYS_ADMIN for overlay mount + systemd-nspawn)"
	else
		for tool in systemd-nspawn nsenter mount umount; do
			if ! command -v "$tool" >/dev/null 2>&1; then
				why="$tool not found (apt-get install systemd-container util-linux)"
				break
			fi
		done
	fi
	if [[ -n $why ]]; then
		printf '\n***** SKIP: %s: %s *****\n\n' "${0##*/}" "$why" >&2
		exit 77
	fi
}

# ct_cleanup_stale: clean up containers left behind by test scripts that died
# without running their EXIT trap (kill -9, OOM, machine hiccup): for every
# /var/tmp/sockd-ct.* whose owning script is gone, kill its container (only if
# the recorded pid still is that process), unmount, remove. Never touches the
# containers of running scripts. Called by ct_boot.
ct_cleanup_stale() {
	local d opid ostart npid nstart lpid lstart
	for d in /var/tmp/sockd-ct.*; do
		[[ -f $d/owner ]] || continue
		read -r opid ostart <"$d/owner" || continue
		if [[ -n $opid && $(ct__starttime "$opid") == "$ostart" ]]; then
			continue # owner still running
		fi
		echo "# ct_cleanup_stale: removing stale container $d (owner pid $opid gone)" >&2
		npid="" nstart="" lpid="" lstart=""
		if [[ -f $d/pids ]]; then
			read -r npid nstart lpid lstart <"$d/pids" || true
		fi
		if [[ -n $lpid && -n $lstart && $(ct__starttime "$lpid") == "$lstart" ]]; then
			kill -KILL "$lpid" 2>/dev/null || true
		fi
		if [[ -n $npid && -n $nstart && $(ct__starttime "$npid") == "$nstart" ]]; then
			ct__wait_gone "$npid" 50 || kill -KILL "$npid" 2>/dev/null || true
		fi
		if mountpoint -q "$d/root" 2>/dev/null; then
			umount "$d/root" 2>/dev/null || umount -l "$d/root" || true
		fi
		ct__cgroups_remove "$d"
		if ! mountpoint -q "$d/root" 2>/dev/null; then
			rm -rf --one-file-system -- "$d" || true
		fi
	done
	# Network namespaces of ct_lan_*: named after the script's pid.
	for d in /run/netns/sockd-*-*; do
		[[ -e $d ]] || continue
		opid=${d#/run/netns/sockd-}
		opid=${opid%%-*}
		[[ $opid =~ ^[0-9]+$ && ! -e /proc/$opid ]] || continue
		echo "# ct_cleanup_stale: removing network namespace ${d##*/} (owner pid $opid gone)" >&2
		ip netns del "${d##*/}" 2>/dev/null || true
	done
}

# ct__cgroups BASE: the cgroup directories of the container at BASE, one per hierarchy
# systemd-nspawn places it in. With --keep-unit, nspawn puts the container's systemd in
# "payload" below its own cgroup; on these hosts (no systemd) that is the root cgroup for
# every container, so two containers at once would share, and tear down, each other's
# unit cgroups (web@0.service of one host removed under another's: 219/CGROUP). So each
# nspawn runs in a cgroup of its own.
ct__cgroups() {
	local name=sockd-ct-${1##*.} h
	for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
		[[ -e $h/cgroup.procs ]] && echo "$h/$name"
	done
	if [[ ! -e /sys/fs/cgroup/unified/cgroup.procs && -e /sys/fs/cgroup/cgroup.procs &&
		$(readlink /proc/1/exe) != */systemd ]]; then
		echo "/sys/fs/cgroup/$name"
	fi
	return 0
}

# ct__cgroups_remove BASE: the container's cgroups, once it is gone (deepest first).
ct__cgroups_remove() {
	local d
	while read -r d; do
		[[ -d $d ]] || continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null ||
			echo "ct: could not remove the cgroup $d (processes left in it?)" >&2
	done < <(ct__cgroups "$1")
}

# ct__start DEADLINE_US T0_US: run systemd-nspawn on $CT_BASE/root and wait until the
# container's systemd is running or degraded. Sets CT_NSPAWN_PID and CT_LEADER.
ct__start() {
	local deadline=$1 t0=$2 now state="" cgroups
	CT_MACHINE="sockd-$$${CT_SLOT:+-$CT_SLOT}"
	cgroups=$(ct__cgroups "$CT_BASE")
	(
		for d in $cgroups; do
			mkdir -p "$d" && echo "$BASHPID" >"$d/cgroup.procs"
		done
		exec env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES \
			-u INVOCATION_ID -u JOURNAL_STREAM -u WATCHDOG_USEC -u WATCHDOG_PID \
			SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 TERM=dumb \
			systemd-nspawn -D "$CT_BASE/root" --boot --register=no --keep-unit \
			$CT_NETWORK_ARGS --machine="$CT_MACHINE" --quiet \
			--console=read-only </dev/null >"$CT_BASE/log" 2>&1
	) &
	CT_NSPAWN_PID=$!
	echo "$CT_NSPAWN_PID $(ct__starttime "$CT_NSPAWN_PID")" >"$CT_BASE/pids"

	# The container's PID 1 is nspawn's child; it is ours once it has exec'd
	# systemd. No event to wait on from out here, so poll briefly.
	CT_LEADER=
	while :; do
		CT_LEADER=$(pgrep -P "$CT_NSPAWN_PID" -x systemd 2>/dev/null | head -n1) || true
		[[ -n $CT_LEADER ]] && break
		if ! ct__alive "$CT_NSPAWN_PID"; then
			echo "ct_boot: systemd-nspawn exited before the container's systemd started; log:" >&2
			sed 's/^/  | /' "$CT_BASE/log" >&2
			return 1
		fi
		now=$(ct__now_us)
		if ((now > deadline)); then
			echo "ct_boot: container's systemd did not appear within ${timeout}s; log:" >&2
			sed 's/^/  | /' "$CT_BASE/log" >&2
			return 1
		fi
		sleep 0.05
	done
	export CT_LEADER
	echo "$CT_NSPAWN_PID $(ct__starttime "$CT_NSPAWN_PID") $CT_LEADER $(ct__starttime "$CT_LEADER")" >"$CT_BASE/pids"

	# `is-system-running --wait` blocks until start-up is over, but fails
	# ("offline") while PID 1 has not opened its private bus socket yet.
	while :; do
		now=$(ct__now_us)
		if ((now > deadline)); then
			state=$(ct systemctl is-system-running 2>/dev/null) || true
			echo "ct_boot: system not running after ${timeout}s (state: ${state:-unknown}); log:" >&2
			sed 's/^/  | /' "$CT_BASE/log" >&2
			if ct__alive "$CT_LEADER"; then
				ct systemctl list-jobs --no-pager >&2 || true
				ct systemctl --failed --no-pager >&2 || true
			fi
			return 1
		fi
		# timeout runs inside: killing nsenter from outside would leave its
		# child as a zombie in the container that stalls poweroff by 10 s.
		state=$(nsenter -t "$CT_LEADER" -a -- /usr/bin/env -i "PATH=$CT_PATH" \
			timeout "$(((deadline - now) / 1000000 + 1))" \
			systemctl is-system-running --wait 2>/dev/null) || true
		case $state in
		running | degraded) break ;;
		esac
		if ! ct__alive "$CT_NSPAWN_PID"; then
			echo "ct_boot: systemd-nspawn exited during boot; log:" >&2
			sed 's/^/  | /' "$CT_BASE/log" >&2
			return 1
		fi
		sleep 0.05
	done
	CT_BOOT_USEC=$(($(ct__now_us) - t0))
	ct__log "container $CT_MACHINE booted ($state) in $(ct__fmt_us "$CT_BOOT_USEC") s, leader pid $CT_LEADER, base $CT_BASE"
	if [[ $state == degraded ]]; then
		ct__log "degraded: failed units inside:"
		ct systemctl --failed --no-pager --plain --no-legend 2>&1 | sed 's/^/#   /' >&2 || true
	fi
}

# ct_boot: overlay-mount /, boot systemd in systemd-nspawn, wait until it is
# running or degraded. Exports CT_BASE and CT_LEADER; installs the EXIT trap.
ct_boot() {
	local timeout=${CT_BOOT_TIMEOUT:-60} t0 deadline now state="" u
	ct_require_root_or_skip
	if [[ -n $CT_NSPAWN_PID ]]; then
		echo "ct_boot: a container is already running (CT_BASE=$CT_BASE)" >&2
		return 1
	fi
	t0=$(ct__now_us)
	deadline=$((t0 + timeout * 1000000))

	trap 'ct__exit_trap $?' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP

	ct_cleanup_stale
	# /var/tmp, not /tmp: on disk even where /tmp is a tmpfs (the upper layer
	# would eat RAM) and out of the way of /tmp cleaners.
	CT_BASE=$(mktemp -d /var/tmp/sockd-ct.XXXXXX)
	export CT_BASE
	echo "$$ $(ct__starttime $$)" >"$CT_BASE/owner"
	mkdir -p "$CT_BASE/upper" "$CT_BASE/work" "$CT_BASE/root"
	if ! mount -t overlay overlay \
		-o "lowerdir=/,upperdir=$CT_BASE/upper,workdir=$CT_BASE/work" \
		"$CT_BASE/root"; then
		echo "ct_boot: overlay mount of / on $CT_BASE/root failed" >&2
		return 1
	fi

	# Keep host services that only cost boot time out of the container. This
	# writes into the upper layer only.
	mkdir -p "$CT_BASE/root/etc/systemd/system"
	for u in ${CT_MASK_UNITS-nginx.service postgresql.service}; do
		ln -sfn /dev/null "$CT_BASE/root/etc/systemd/system/$u"
	done

	# Hook for the test: prepare the container's file system before systemd
	# starts (e.g. install a generator or a unit that must be there at boot).
	# $1 = the container's root as seen from the host (writes go to upper).
	if declare -F ct_pre_boot >/dev/null; then
		ct_pre_boot "$CT_BASE/root"
	fi

	ct__start "$deadline" "$t0"
}

# ct__poweroff: power the container off and wait for nspawn (kill -9 after 20 s).
ct__poweroff() {
	local rc=0 kids i
	if [[ -n $CT_NSPAWN_PID ]] && ct__alive "$CT_NSPAWN_PID"; then
		if [[ -n $CT_LEADER ]] && ct__alive "$CT_LEADER" &&
			nsenter -t "$CT_LEADER" -a -- /usr/bin/env -i "PATH=$CT_PATH" \
				timeout 10 systemctl poweroff --no-block >/dev/null 2>&1; then
			if ! ct__wait_gone "$CT_NSPAWN_PID" 200; then
				echo "ct_shutdown: container did not power off within 20 s, killing it; what it waited for:" >&2
				nsenter -t "$CT_LEADER" -a -- /usr/bin/env -i "PATH=$CT_PATH" timeout 5 \
					sh -c 'systemctl list-jobs --no-pager; ps -eo pid,ppid,stat,wchan:20,args' 2>&1 |
					sed 's/^/ct_shutdown: | /' >&2 || true
				rc=1
			fi
		fi
		if ct__alive "$CT_NSPAWN_PID"; then
			# No clean poweroff possible (boot failed or hung). SIGKILL to the
			# container's PID 1 (nspawn's child) ends its whole PID namespace,
			# and nspawn exits when its child is gone. Killing only nspawn
			# would leave the container running, and SIGTERM to nspawn is lost
			# while systemd has not installed its signal handlers yet. Repeat:
			# early on, nspawn's child may still be about to fork PID 1.
			for ((i = 0; i < 50; i++)); do
				ct__alive "$CT_NSPAWN_PID" || break
				kids=$(pgrep -P "$CT_NSPAWN_PID" 2>/dev/null | tr '\n' ' ') || true
				# shellcheck disable=SC2086 # list of pids
				[[ -z $kids ]] || kill -KILL $kids 2>/dev/null || true
				sleep 0.1
			done
			if ct__alive "$CT_NSPAWN_PID"; then
				kill -KILL "$CT_NSPAWN_PID" 2>/dev/null || true
				ct__wait_gone "$CT_NSPAWN_PID" 50 ||
					echo "ct_shutdown: systemd-nspawn $CT_NSPAWN_PID still alive" >&2
			fi
		fi
	fi
	if [[ -n $CT_NSPAWN_PID ]]; then
		wait "$CT_NSPAWN_PID" 2>/dev/null || true # reap the zombie
	fi
	CT_NSPAWN_PID=
	CT_LEADER=
	return "$rc"
}

# ct_shutdown: power the container off, wait for nspawn (kill -9 after 20 s),
# unmount the overlay, remove $CT_BASE. Idempotent; safe after a failed or
# half-done ct_boot. Returns non-zero if something could not be cleaned up.
ct_shutdown() {
	local rc=0 base=$CT_BASE
	[[ -n $base ]] || return 0

	ct__poweroff || rc=1
	ct__cgroups_remove "$base"

	if mountpoint -q "$base/root" 2>/dev/null; then
		umount "$base/root" 2>/dev/null || umount -l "$base/root" || true
	fi
	if mountpoint -q "$base/root" 2>/dev/null; then
		# Never rm -rf through a live overlay of /.
		echo "ct_shutdown: $base/root is still mounted, not removing $base" >&2
		rc=1
	elif [[ ${CT_KEEP:-0} == 1 ]]; then
		ct__log "CT_KEEP=1: keeping $base (log: $base/log, container writes: $base/upper)"
	else
		rm -rf --one-file-system -- "$base" || rc=1
	fi
	CT_BASE=
	return "$rc"
}

# ct_reboot: power the container off and boot it again on the same root, as a
# machine reboots: what it wrote to disk (/etc, /var) stays, /run starts empty.
ct_reboot() {
	local timeout=${CT_BOOT_TIMEOUT:-60} t0
	ct__poweroff || return 1
	t0=$(ct__now_us)
	ct__start $((t0 + timeout * 1000000)) "$t0"
}

# ---------------------------------------------------------------- several hosts

ct__slot_save() {
	[[ -n $CT_SLOT ]] || return 0
	CT__SLOTS[$CT_SLOT]="$CT_BASE|$CT_NSPAWN_PID|$CT_LEADER|$CT_MACHINE"
}

# ct_use NAME: make the container ct_boot_as NAME booted the current one.
ct_use() {
	local s=${CT__SLOTS[$1]-}
	if [[ -z $s ]]; then
		echo "ct_use: no container $1" >&2
		return 1
	fi
	ct__slot_save
	CT_SLOT=$1
	IFS='|' read -r CT_BASE CT_NSPAWN_PID CT_LEADER CT_MACHINE <<<"$s"
	export CT_BASE CT_LEADER
}

# ct_boot_as NAME: boot one more container (as ct_boot does) and make it current.
ct_boot_as() {
	ct__slot_save
	CT_SLOT=$1
	CT_BASE= CT_NSPAWN_PID= CT_LEADER= CT_MACHINE=
	CT__SLOTS[$1]="|||"
	ct_boot || return 1
	ct__slot_save
}

# Every container down (the current one only, without ct_boot_as), then the network.
ct__shutdown_all() {
	local rc=0 s
	if ((${#CT__SLOTS[@]} == 0)); then
		ct_shutdown || rc=1
	else
		ct__slot_save
		for s in "${!CT__SLOTS[@]}"; do
			IFS='|' read -r CT_BASE CT_NSPAWN_PID CT_LEADER CT_MACHINE <<<"${CT__SLOTS[$s]}"
			ct_shutdown || rc=1
			unset "CT__SLOTS[$s]"
		done
		CT_SLOT=
	fi
	ct__lan_delete || rc=1
	return "$rc"
}

# ct_lan_create: a bridge in a network namespace of its own, the private network of
# the containers ct_lan_attach puts on it. Nothing of it is on the host's network.
ct_lan_create() {
	CT_LAN=sockd-$$-lan
	ip netns add "$CT_LAN"
	ip -n "$CT_LAN" link add br0 type bridge
	ip -n "$CT_LAN" link set br0 up
}

# ct_lan_attach NAME ADDR: a network namespace for the next container booted, whose
# eth0 has ADDR/24 on the bridge; sets CT_NETWORK_ARGS for that boot.
ct_lan_attach() {
	local ns=sockd-$$-$1 veth
	CT__LAN_N=$((CT__LAN_N + 1))
	veth=v$CT__LAN_N
	ip netns add "$ns"
	ip -n "$CT_LAN" link add "$veth" type veth peer name eth0 netns "$ns"
	ip -n "$CT_LAN" link set "$veth" master br0 up
	ip -n "$ns" addr add "$2/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
	CT_NETWORK_ARGS="--network-namespace-path=/run/netns/$ns"
}

ct__lan_delete() {
	local ns rc=0
	[[ -n $CT_LAN ]] || return 0
	for ns in /run/netns/sockd-$$-*; do
		[[ -e $ns ]] || continue
		ip netns del "${ns##*/}" || rc=1
	done
	CT_LAN=
	return "$rc"
}

# ct CMD [ARGS...]: run a command inside the container (all namespaces of the
# container's PID 1, its root and cwd), with a clean environment. stdin,
# stdout, stderr and the exit status are passed through.
ct() {
	if [[ -z $CT_LEADER ]]; then
		echo "ct: no container (call ct_boot first)" >&2
		return 125
	fi
	nsenter -t "$CT_LEADER" -a -- /usr/bin/env -i "PATH=$CT_PATH" HOME=/root \
		LANG=C.UTF-8 SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 "$@"
}

# ct_sh 'SCRIPT' [ARGS...]: run a bash script string inside the container;
# ARGS become $1, $2, ... of the script.
ct_sh() {
	local script=$1
	shift
	ct bash -c "$script" ct_sh "$@"
}

# ct_write PATH [MODE]: write stdin into PATH inside the container, creating
# parent directories; optional chmod MODE.
ct_write() {
	local path=$1 mode=${2-}
	# shellcheck disable=SC2016 # expanded inside the container
	ct bash -c 'set -e; mkdir -p -- "$(dirname -- "$1")"; cat >"$1"; if [ -n "$2" ]; then chmod "$2" "$1"; fi' \
		ct_write "$path" "$mode"
}

# ct_wait_active UNIT [TIMEOUT=30]: wait until UNIT is active inside the
# container. Fails early if the unit enters "failed".
ct_wait_active() {
	local unit=$1 timeout=${2:-30} deadline state=""
	deadline=$(($(ct__now_us) + timeout * 1000000))
	while :; do
		state=$(ct systemctl is-active "$unit" 2>/dev/null) || true
		case $state in
		active) return 0 ;;
		failed)
			echo "ct_wait_active: $unit failed" >&2
			return 1
			;;
		esac
		if (($(ct__now_us) > deadline)); then
			echo "ct_wait_active: $unit not active after ${timeout}s (state: ${state:-unknown})" >&2
			return 1
		fi
		sleep 0.1
	done
}

# ct_dump_unit UNIT: systemctl status + last 50 journal lines of UNIT, to
# stderr (for debugging failed tests).
ct_dump_unit() {
	local unit=$1
	{
		echo "----- systemctl status $unit -----"
		ct systemctl status --no-pager --full --lines=0 "$unit" 2>&1 || true
		echo "----- journalctl -u $unit (last 50) -----"
		ct journalctl --no-pager --full -b -n 50 -u "$unit" 2>&1 || true
		echo "-----"
	} >&2
}

# ct_journal_sync: make journald inside process everything logged so far
# (journalctl --sync: returns once messages sent before it are stored), so a
# following journalctl query sees them. Use instead of sleeping.
ct_journal_sync() {
	ct journalctl --sync
}

# ----------------------------------------------------------------- nginx

# ct_nginx_start CONF_FILE: run a separate nginx inside the container with its
# own config, as the transient unit sockd-test-nginx.service (Type=forking:
# returns once nginx has bound its listen sockets; logs go to the journal;
# ct_dump_unit sockd-test-nginx works). CONF_FILE is a path inside the
# container; if it does not exist there but does on the host (e.g. host /tmp),
# it is copied in. The config must not contain a `pid` directive (the pid file
# is set with -g). The distro nginx.service is stopped/disabled if present.
ct_nginx_start() {
	local conf=$1
	if ! ct test -r "$conf"; then
		if [[ -r $conf ]]; then
			ct_write /run/sockd-test-nginx/nginx.conf <"$conf"
			conf=/run/sockd-test-nginx/nginx.conf
		else
			echo "ct_nginx_start: $conf not found (inside the container or on the host)" >&2
			return 1
		fi
	fi
	if ct systemctl -q is-active nginx.service 2>/dev/null ||
		ct systemctl -q is-enabled nginx.service 2>/dev/null; then
		ct systemctl disable --now --quiet nginx.service || true
	fi
	ct systemctl stop "$CT_NGINX_UNIT" 2>/dev/null || true
	ct systemctl reset-failed "$CT_NGINX_UNIT" 2>/dev/null || true
	if ! ct nginx -q -t -e stderr -c "$conf" -g "pid $CT_NGINX_PID_FILE;"; then
		echo "ct_nginx_start: nginx -t failed for $conf" >&2
		return 1
	fi
	if ! ct systemd-run --quiet --unit="$CT_NGINX_UNIT" \
		--property=Type=forking --property=PIDFile="$CT_NGINX_PID_FILE" \
		-- nginx -e stderr -c "$conf" -g "pid $CT_NGINX_PID_FILE;"; then
		ct_dump_unit "$CT_NGINX_UNIT"
		return 1
	fi
}

# ct_nginx_stop: stop the nginx started by ct_nginx_start (no-op if none).
ct_nginx_stop() {
	ct systemctl stop "$CT_NGINX_UNIT" 2>/dev/null || true
	ct systemctl reset-failed "$CT_NGINX_UNIT" 2>/dev/null || true
}

# ------------------------------------------------------------ assertions

# ok DESC / fail DESC: record a passed / failed check (TAP-ish line on stdout;
# fail does not abort the script).
ok() {
	CT_NUM=$((CT_NUM + 1))
	CT_PASSED=$((CT_PASSED + 1))
	printf 'ok %d - %s\n' "$CT_NUM" "$*"
}

fail() {
	CT_NUM=$((CT_NUM + 1))
	CT_FAILED=$((CT_FAILED + 1))
	printf 'not ok %d - %s\n' "$CT_NUM" "$*"
}

# assert_eq ACTUAL EXPECTED DESC
assert_eq() {
	if [[ $1 == "$2" ]]; then
		ok "$3"
	else
		fail "$3"
		printf '#   expected: %q\n#   actual:   %q\n' "$2" "$1"
	fi
}

# assert_match STRING REGEX DESC   (bash ERE, [[ =~ ]])
assert_match() {
	if [[ $1 =~ $2 ]]; then
		ok "$3"
	else
		fail "$3"
		printf '#   regex:  %s\n#   string: %q\n' "$2" "$1"
	fi
}

# ct_finish: shut the container down, print the plan, the timing and the
# closing line "N passed, N failed"; non-zero if anything failed (including
# an unclean shutdown).
ct_finish() {
	local t0
	CT_FINISHED=1
	t0=$(ct__now_us)
	if ! ct__shutdown_all; then
		fail "container shut down and cleaned up"
	fi
	printf '1..%d\n' "$CT_NUM"
	if [[ -n $CT_BOOT_USEC ]]; then
		printf '# boot %s s, shutdown %s s, total %s s\n' "$(ct__fmt_us "$CT_BOOT_USEC")" \
			"$(ct__fmt_us "$(($(ct__now_us) - t0))")" \
			"$(ct__fmt_us "$(($(ct__now_us) - CT_T_START))")"
	fi
	printf '%d passed, %d failed\n' "$CT_PASSED" "$CT_FAILED"
	[[ $CT_FAILED == 0 ]]
}
