#!/usr/bin/env bash
#
# Smoke test of the demo instance: start scripts/demo.sh in the
# background, wait until "osmsctl -f var/demo/osmsd.conf status" answers
# and every process is ready, print the status, send SIGTERM and check
# that osmsd exits 0 and that no process of the demo is left.
#
# Environment: DEMO_SMOKE_TIMEOUT (seconds, default 60), OSMSD and
# OSMSCTL (default build/osmsd, build/osmsctl).

set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd -P)
OSMSCTL="${OSMSCTL:-$ROOT/build/osmsctl}"
CONF="$ROOT/var/demo/osmsd.conf"
TIMEOUT="${DEMO_SMOKE_TIMEOUT:-60}"

say() { printf 'demo-smoke: %s\n' "$*"; }
fail() { printf 'demo-smoke: FAIL: %s\n' "$*"; exit 1; }

[ -x "$OSMSCTL" ] || fail "$OSMSCTL is not built"
if [ -s "$CONF" ] && "$OSMSCTL" -f "$CONF" status >/dev/null 2>&1; then
	fail "a demo is already running on var/demo; stop it first"
fi

LOG=$(mktemp /tmp/osms-demo-smoke.XXXXXX)
pid=
declare -A seen=()	# pid -> start time, every process of the demo

starttime() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	# shellcheck disable=SC2086
	set -- $st
	[ "$1" != Z ] || return 1
	echo "${20}"
}

# remember PID...: note the processes and all their descendants.
remember() {
	local p t
	for p in "$@" $(ps -e -o pid=,ppid= | awk -v roots=" $* " '
	    { parent[$1] = $2 }
	    END {
		n = split(roots, r, " ")
		for (i = 1; i <= n; i++) inset[r[i]] = 1
		do {
			changed = 0
			for (c in parent)
				if (!(c in inset) && (parent[c] in inset)) {
					inset[c] = 1; changed = 1; print c
				}
		} while (changed)
	    }'); do
		t=$(starttime "$p") || continue
		[ -n "${seen[$p]:-}" ] || seen[$p]=$t
	done
}

left() {
	local p t
	for p in "${!seen[@]}"; do
		t=$(starttime "$p") || continue
		[ "$t" = "${seen[$p]}" ] && echo "$p"
	done
}

cleanup() {
	local rc=$? p
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	for p in $(left); do
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ]; then
		echo "--- demo output (last 40 lines, $LOG)"
		tail -n 40 "$LOG" || true
	else
		rm -f "$LOG"
	fi
}
trap cleanup EXIT

say "starting scripts/demo.sh"
t0=$SECONDS
scripts/demo.sh >"$LOG" 2>&1 &
pid=$!		# demo.sh execs osmsd: this becomes osmsd's pid

status=
while :; do
	if ! kill -0 "$pid" 2>/dev/null; then
		rc=0
		wait "$pid" || rc=$?
		pid=
		fail "the demo exited (status $rc) before it was ready"
	fi
	remember "$pid"
	if out=$("$OSMSCTL" -f "$CONF" status 2>&1); then
		status=$out
		# shellcheck disable=SC2046
		remember $(printf '%s\n' "$out" | awk 'NR > 1 && $2 ~ /^[0-9]+$/ { print $2 }')
		if printf '%s\n' "$out" | awk '
		    NR > 1 && NF >= 5 { n++; if ($5 != "ready" && $5 != "running") bad = 1 }
		    END { exit !(n > 0 && !bad) }'; then
			break
		fi
	fi
	if [ $((SECONDS - t0)) -ge "$TIMEOUT" ]; then
		printf '%s\n' "${status:-osmsctl status never answered}"
		fail "the demo was not ready after ${TIMEOUT}s"
	fi
	sleep 0.2
done
say "ready after $((SECONDS - t0))s:"
printf '%s\n' "$status"

say "SIGTERM to osmsd (pid $pid)"
kill -TERM "$pid"
t1=$SECONDS
while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - t1)) -lt 20 ]; do
	sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
	fail "osmsd did not exit within 20s of SIGTERM"
fi
rc=0
wait "$pid" || rc=$?
pid=
say "osmsd exited with status $rc after $((SECONDS - t1))s"

sleep 0.5
stray=$(left | sort -n | paste -sd' ')
if [ -n "$stray" ]; then
	ps -o pid,ppid,stat,args -p "${stray// /,}" || true
	fail "processes of the demo left after SIGTERM: $stray"
fi
if others=$(pgrep -a -f -- "$CONF"); then
	printf '%s\n' "$others"
	fail "processes using $CONF left after SIGTERM"
fi
[ "$rc" -eq 0 ] || fail "osmsd exited with status $rc"
say "ok: every demo process stopped"
