#!/bin/bash
# What sockdctl takes as a fleet, before it connects anywhere: -H and --hosts FILE (one
# [USER@]HOST a line, '#' comments), each host once, nothing ssh would read as an option;
# every mistake named with its file:line, exit 2, and no ssh started. Options that make
# no sense for a fleet are refused the same way.
#
# Usage: check-ctl-hosts.sh SOCKDCTL
set -euo pipefail

ctl=${1:?usage: check-ctl-hosts.sh SOCKDCTL}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0 failed=0 num=0
ok() {
	num=$((num + 1)) passed=$((passed + 1))
	printf 'ok %d - %s\n' "$num" "$*"
}
fail() {
	num=$((num + 1)) failed=$((failed + 1))
	printf 'not ok %d - %s\n' "$num" "$*"
}

# An ssh that records that it ran, then fails as an unreachable host does (after a
# while: sockdctl stops the other sessions once one has failed, and all must have
# started by then): none of the refused commands may get that far.
mkdir "$tmp/bin"
printf '#!/bin/sh\necho "ssh $*" >>"%s/ssh-ran"\nsleep 1\nexit 255\n' "$tmp" >"$tmp/bin/ssh"
chmod +x "$tmp/bin/ssh"

# refused 'WHAT' 'EXPECTED MESSAGE (fixed string)' SOCKDCTL-ARGS...
refused() {
	local what=$1 want=$2 rc=0 err
	shift 2
	err=$(PATH="$tmp/bin:$PATH" "$ctl" "$@" 2>&1 >/dev/null) || rc=$?
	if [[ $rc == 2 && $err == *"$want"* && ! -e $tmp/ssh-ran ]]; then
		ok "$what"
	else
		fail "$what"
		printf '#   exit %s, wanted 2; stderr: %s\n#   wanted: %s\n' "$rc" "$err" "$want"
		[[ ! -e $tmp/ssh-ran ]] || printf '#   ssh ran: %s\n' "$(cat "$tmp/ssh-ran")"
	fi
	rm -f "$tmp/ssh-ran"
}

refused "-H twice with one host" "-H: web1 is given twice" -H web1 -H web1 status
refused "a host that starts with '-' (an ssh option)" "-H: '-oProxyCommand=sh' starts with '-'" -H web1 -H -oProxyCommand=sh status
refused "an empty host" "-H: '' is empty" -H "" status
refused "a blank in a host" "-H: 'web 1' contains a blank" -H "web 1" status
refused "two @" "-H: 'a@b@c' is not [USER@]HOST" -H a@b@c status
refused "a trailing @" "-H: 'root@' is not [USER@]HOST" -H root@ status
refused "a host of 300 characters" "is longer than 255 characters" -H "$(printf 'h%.0s' $(seq 300))" status

printf '# the fleet\nweb1\n\n   web2   # the second\nroot@web3\nweb1\n' >"$tmp/twice"
refused "--hosts: a host listed twice, with its line" "$tmp/twice:6: web1 is listed twice" --hosts "$tmp/twice" status
printf 'web1\nweb2 web3\n' >"$tmp/words"
refused "--hosts: two words on a line" "$tmp/words:2: 'web2 web3' is more than one word" --hosts "$tmp/words" status
printf 'web1\n-oProxyCommand=sh\n' >"$tmp/option"
refused "--hosts: an option in the file" "$tmp/option:2: '-oProxyCommand=sh' starts with '-'" --hosts "$tmp/option" status
printf '# nobody\n\n' >"$tmp/empty"
refused "--hosts: a file with no host" "$tmp/empty: no host in it" --hosts "$tmp/empty" status
refused "--hosts: a file that is not there" "failed to open '$tmp/missing'" --hosts "$tmp/missing" status
printf 'web1\n' >"$tmp/one"
refused "--hosts and -H: the same host twice" "-H: web1 is given twice" --hosts "$tmp/one" -H web1 status

refused "-M with -H" "-M cannot be combined with -H or --hosts" -M box -H web1 status
refused "--user with -H" "--user cannot be combined with -H or -M" --user -H web1 status
refused "--one-host-at-a-time without restart" "--one-host-at-a-time goes with 'restart' only" -H a -H b --one-host-at-a-time status
refused "--one-host-at-a-time with --suspended" "--one-host-at-a-time goes with 'restart' only" \
	-H a -H b --one-host-at-a-time restart --suspended web
refused "nginx for several hosts" "'nginx' prints one host's upstream" -H a -H b nginx web
refused "scale on a fleet" "'scale' writes files on this host" -H a -H b scale web 3
refused "--dry-run on a fleet" "--dry-run reads the config file, which is on the other host" -H a -H b restart --dry-run web

# And the hosts that pass go to ssh as they are, each after "--", each once, all at once.
printf '# the fleet\nweb1\n   web2   # the second\nroot@web3\n' >"$tmp/good"
rm -f "$tmp/ssh-ran"
rc=0
PATH="$tmp/bin:$PATH" "$ctl" --hosts "$tmp/good" -H extra status >/dev/null 2>"$tmp/err" || rc=$?
ran=$(sed 's/.* -- \([^ ]*\) .*/\1/' "$tmp/ssh-ran" 2>/dev/null | sort | tr '\n' ' ')
if [[ $rc == 1 && $ran == "extra root@web3 web1 web2 " ]]; then
	ok "a good list: one ssh per host, started together, the host after '--'; unreachable: exit 1"
else
	fail "a good list: one ssh per host, started together, the host after '--'; unreachable: exit 1"
	printf '#   exit %s; ssh ran for: %s\n' "$rc" "$ran"
	sed 's/^/#   /' "$tmp/ssh-ran" "$tmp/err" 2>/dev/null || true
fi
if grep -q "Failed to reach systemd on web1: the ssh session ended" "$tmp/err"; then
	ok "the first host that cannot be reached is named"
else
	fail "the first host that cannot be reached is named"
	sed 's/^/#   /' "$tmp/err"
fi

printf '1..%d\n%d passed, %d failed\n' "$num" "$passed" "$failed"
[[ $failed == 0 ]]
