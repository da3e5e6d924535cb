#!/bin/bash
# The man pages keep up with the programs: every long option each program's --help
# prints is an item of its page's OPTIONS, every sockdctl command one of COMMANDS,
# every key of the config table (src/shared/config-keys.c) one of sockd.conf(5)'s KEYS in
# its section; every page has the sections users look for, renders without warnings,
# and the units' Documentation= names only these pages.
#
# Usage: check-man.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=${1:?usage: check-man.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: check-man.sh SOURCE_DIR BUILD_DIR}
mandir=$build/man

pages=(sockdctl.1 sockd.conf.5 sockd-spawn.8 sockd-generator.8)
declare -A program_page=(
	[src/ctl/sockdctl]=sockdctl.1
	[src/spawn/sockd-spawn]=sockd-spawn.8
	[src/generator/sockd-generator]=sockd-generator.8
)

passed=0 failed=0 skipped=0
ok() {
	echo "ok - $*"
	passed=$((passed + 1))
}
not_ok() {
	echo "not ok - $*"
	failed=$((failed + 1))
}
skip() {
	echo "ok - $* # SKIP"
	skipped=$((skipped + 1))
}

# The page's text with comments dropped and the escapes that hide plain words
# undone: \- is '-', font changes and \& vanish, \(aq and \(dq are quotes.
plain() {
	sed -e '/^\.\\"/d' \
	    -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\&//g' \
	    -e "s/\\\\(aq/'/g" -e 's/\\(dq/"/g' "$1"
}

# The tags of the page's list items (.TP/.TQ), as "SECTION<TAB>SUBSECTION<TAB>tag",
# the tag without its font macro and quotes.
tags() {
	plain "$1" | awk -v OFS='\t' '
		function unquote(s) { gsub(/"/, "", s); return s }
		/^\.SH / { sh = unquote(substr($0, 5)); ss = ""; next }
		/^\.SS / { ss = unquote(substr($0, 5)); next }
		/^\.T[PQ]( |$)/ { want = 1; next }
		want { want = 0; t = $0; sub(/^\.[BIR]+ +/, "", t); print sh, ss, unquote(t) }'
}

# Whether $2 occurs in $1 as a whole word: not as part of a longer option or name.
has_word() {
	local re
	re=$(printf '%s' "$2" | sed 's/[][\.*^$+?(){}|/]/\\&/g')
	grep -qE -- "(^|[^A-Za-z0-9_-])$re([^A-Za-z0-9_-]|\$)" <<<"$1"
}

# ---- the pages were built, with every @VARIABLE@ filled in ----
for p in "${pages[@]}"; do
	if [[ ! -s $mandir/$p ]]; then
		not_ok "$p is built in $mandir"
		continue
	fi
	left=$(grep -oE '@[A-Z_]+@' "$mandir/$p" | sort -u | tr '\n' ' ')
	if [[ -z $left ]]; then
		ok "$p is built, every @VARIABLE@ substituted"
	else
		not_ok "$p still contains $left"
	fi
done

# ---- every section a user looks for; NAME in whatis form ----
for p in "${pages[@]}"; do
	[[ -s $mandir/$p ]] || continue
	text=$(plain "$mandir/$p")
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT FILES 'EXIT STATUS' EXAMPLES 'SEE ALSO'; do
		re="^\\.SH +\"?$s\"? *\$" label=$s
		if [[ $s == OPTIONS ]]; then
			re='^\.SH +"?(OPTIONS|KEYS)"? *$' label='OPTIONS (or KEYS)'
		fi
		if grep -qE -- "$re" <<<"$text"; then
			ok "$p has the section $label"
		else
			not_ok "$p has no section $label"
		fi
	done
	name=${p%.*}
	if awk '/^\.SH +"?NAME/ { getline; print; exit }' <<<"$text" | grep -qE "^$(sed 's/\./\\./g' <<<"$name") - [^ ]"; then
		ok "$p: NAME reads '$name - description'"
	else
		not_ok "$p: NAME does not read '$name - description'"
	fi
done

# ---- every long option of every program is an item of its page's OPTIONS ----
for prog in "${!program_page[@]}"; do
	p=${program_page[$prog]}
	if ! help=$("$build/$prog" --help 2>&1); then
		not_ok "$prog --help succeeds"
		continue
	fi
	options=$(grep -oE -- '--[a-z][a-z-]*' <<<"$help" | sort -u)
	if [[ -z $options ]]; then
		not_ok "$prog --help lists no long options"
		continue
	fi
	[[ -s $mandir/$p ]] || continue
	items=$(tags "$mandir/$p" | awk -F'\t' '$1 == "OPTIONS" { print $3 }')
	for o in $options; do
		if has_word "$items" "$o"; then
			ok "$p documents $o under OPTIONS"
		else
			not_ok "$p does not document $o (from ${prog##*/} --help) under OPTIONS"
		fi
	done
done

# ---- every sockdctl command (the verbs[] table) is an item of COMMANDS ----
verbs=$(sed -n 's/^[[:space:]]*{ *"\([a-z-]*\)", *[0-9]*, *[0-9]*, *verb_.*/\1/p' "$src/src/ctl/sockdctl.c")
if [[ -z $verbs ]]; then
	not_ok "found the verbs[] table in src/ctl/sockdctl.c"
elif [[ -s $mandir/sockdctl.1 ]]; then
	commands=$(tags "$mandir/sockdctl.1" | awk -F'\t' '$1 == "COMMANDS" { split($3, w, " "); print w[1] }')
	for v in $verbs; do
		if grep -qxF -- "$v" <<<"$commands"; then
			ok "sockdctl.1 documents the command '$v' under COMMANDS"
		else
			not_ok "sockdctl.1 does not document the command '$v' under COMMANDS"
		fi
	done
fi

# ---- every config key (config_keys[]) is an item of its section in sockd.conf(5) ----
keys=$(sed -n 's/^[[:space:]]*KEY("\([A-Za-z]*\)", *"\([A-Za-z]*\)".*/\1 \2/p' "$src/src/shared/config-keys.c")
if [[ -z $keys ]]; then
	not_ok "found the config_keys[] table in src/shared/config-keys.c"
elif [[ -s $mandir/sockd.conf.5 ]]; then
	items=$(tags "$mandir/sockd.conf.5" | awk -F'\t' '$1 == "KEYS"')
	while read -r section key; do
		if awk -F'\t' -v s="[$section]" -v k="$key=" \
			'index($2, s) == 1 && index($3, k) == 1 { found = 1 } END { exit !found }' <<<"$items"; then
			ok "sockd.conf.5 documents $key= in [$section]"
		else
			not_ok "sockd.conf.5 does not document $key= in its [$section] section"
		fi
	done <<<"$keys"
fi

# ---- sockdctl exits with the status its EXIT STATUS gives for usage errors ----
while IFS='|' read -r args says; do
	# shellcheck disable=SC2086 # the arguments are words on purpose
	out=$("$build/src/ctl/sockdctl" $args 2>&1 >/dev/null)
	rc=$?
	if [[ $rc == 2 && $out == *"$says"* ]]; then
		ok "sockdctl $args: exit 2 (EXIT STATUS: a usage error), '$says'"
	else
		not_ok "sockdctl $args: exit $rc, not 2 with '$says': $out"
	fi
done <<'EOF2'
--user -H host status app|--user cannot be combined with -H or -M.
--user -M box status app|--user cannot be combined with -H or -M.
|No command given
frobnicate|Unknown command 'frobnicate'
restart|'restart' needs an app name
--bogus status|unrecognized option '--bogus'
EOF2
grep -qF -- '\-\-user' <<<"$(sed -n '/^\.SH "EXIT STATUS"/,/^\.SH/p' "$src/man/sockdctl.1.in")" ||
	not_ok "sockdctl.1's EXIT STATUS no longer says what --user with -H does"

# ---- the pages render without warnings ----
if command -v man >/dev/null && man --help 2>&1 | grep -q -- --warnings; then
	lint() { LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$1" 2>&1 >/dev/null; }
	linter="man --warnings -l"
elif command -v groff >/dev/null; then
	lint() { groff -man -Tutf8 -ww -z "$1" 2>&1; }
	linter="groff -man -ww"
else
	lint() { :; }
	linter=
fi
for p in "${pages[@]}"; do
	[[ -s $mandir/$p ]] || continue
	if [[ -z $linter ]]; then
		skip "$p renders without warnings: neither man-db nor groff is installed"
		continue
	fi
	warnings=$(lint "$mandir/$p")
	if [[ -z $warnings ]]; then
		ok "$p renders without warnings ($linter)"
	else
		not_ok "$p renders with warnings ($linter):"
		sed 's/^/#   /' <<<"$warnings"
	fi
done

# ---- Documentation= in the units names only these pages ----
refs=0
for unit in "$src"/units/*.in; do
	for ref in $(sed -n 's/^Documentation=//p' "$unit"); do
		refs=$((refs + 1))
		page=$(sed -n 's/^man:\([A-Za-z0-9._-]*\)(\([0-9]\))$/\1.\2/p' <<<"$ref")
		if [[ -n $page && " ${pages[*]} " == *" $page "* && -s $src/man/$page.in ]]; then
			ok "${unit##*/}: Documentation=$ref is one of the pages"
		else
			not_ok "${unit##*/}: Documentation=$ref is not one of ${pages[*]}"
		fi
	done
done
((refs > 0)) || not_ok "found no Documentation= in $src/units/*.in"

((skipped == 0)) || echo "# $skipped check(s) skipped"
echo "$passed passed, $failed failed"
((failed == 0))
