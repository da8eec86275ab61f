#!/usr/bin/env bash
# tests/bench/scale.sh - the monitor with a large policy (issue 9):
# start-up reconciliation against `fimguard check`, time to ready and
# memory with 100,000 protected files, the cost of an open then against a
# one-file policy, and memory over 100,000 create/delete cycles.
#
# Run as root from anywhere: bash tests/bench/scale.sh
#
# Environment:
#   FIMGUARD        binary to measure (default: ./fimguard at the repo root;
#                   a copy is measured)
#   BENCH_REPS      repetitions (default 3); medians are reported
#   BENCH_FILES     protected files (default 100000), 1000 per directory
#   BENCH_N         open+close calls per opener run (default 50000)
#   BENCH_CYCLES    create/delete cycles (default 100000)
#   BENCH_STRICT=1  exit 1 when a target is missed (default: report only)
#
# Per repetition, on one tree of BENCH_FILES files, with its baseline:
#   (a) `fimguard check` (wall time);
#   (b) `fimguard -v run --mode audit` with a rule on the whole tree: the
#       wall time until it says "monitoring" (ready: baseline loaded,
#       tree walked, hashed and compared, everything marked), its RSS
#       then, and its reconciliation (walk + scan + compare and report,
#       from its own log line) against (a);
#   (c) open+close of one protected file, one opener pinned with the
#       monitor's threads on CPU 0 (ns per open), and 4 openers (opens
#       per second), under (b) and under a monitor whose policy is that
#       one file (the same file, its own state directory);
#   then once, under the small policy extended to a directory: the RSS
#   after 2,000 create/delete cycles in it and after BENCH_CYCLES more
#   (tests/integration/churn/churn.c; about 100 files exist at once).
# Everything lives in a mktemp scratch directory with explicit -c/-p/-s;
# every monitor runs under timeout -s KILL and is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/bench
REPS=${BENCH_REPS:-3}
FILES=${BENCH_FILES:-100000}
N=${BENCH_N:-50000}
CYCLES=${BENCH_CYCLES:-100000}
STRICT=${BENCH_STRICT:-0}
FIMGUARD=${FIMGUARD:-$ROOT/fimguard}
LIFETIME=600

die() { printf 'scale-bench: %s\n' "$*" >&2; exit 2; }
note() { printf 'scale-bench: %s\n' "$*" >&2; }

for v in REPS FILES N CYCLES; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer"
done
[[ $(id -u) -eq 0 ]] || die "run as root (fanotify permission events need CAP_SYS_ADMIN)"
command -v cc >/dev/null || die "no C compiler (cc)"
command -v taskset >/dev/null || die "no taskset (util-linux)"
FIMGUARD=$(realpath -e -- "$FIMGUARD" 2>/dev/null) ||
	die "no fimguard binary (build it with make, or set FIMGUARD=)"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/fimguard-scale.XXXXXX")
FG_PID=
stop_fg() {
	local i
	[[ -n $FG_PID ]] || return 0
	kill -TERM "$FG_PID" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$FG_PID" 2>/dev/null || break
		sleep 0.1
	done
	pkill -KILL -P "$FG_PID" 2>/dev/null || true
	kill -KILL "$FG_PID" 2>/dev/null || true
	wait "$FG_PID" 2>/dev/null || true
	FG_PID=
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_fg
	rm -rf -- "$SCRATCH"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BIN=$SCRATCH/bin
mkdir -p "$BIN"
cc -O2 -Wall -Wextra -o "$BIN/openbench" "$HERE/openbench.c" -lcrypto ||
	die "cannot build openbench (needs libssl-dev)"
cc -O2 -Wall -Wextra -o "$BIN/churn" "$ROOT/tests/integration/churn/churn.c" ||
	die "cannot build churn"
cp -- "$FIMGUARD" "$BIN/fimguard"
FG=$BIN/fimguard

# ---- the fixture: one tree, two policies ------------------------------------
D=$SCRATCH/fx
mkdir -p "$D/tree" "$D/big/pol" "$D/small/pol" "$D/churn"
note "making $FILES files"
for ((d = 0; d * 1000 < FILES; d++)); do
	mkdir "$D/tree/d$d"
	n=$((FILES - d * 1000 < 1000 ? FILES - d * 1000 : 1000))
	(cd "$D/tree/d$d" && for ((i = 0; i < n; i++)); do
		printf 'file %d %d\n' "$d" "$i" >"f$i.conf"
	done)
done
PROT=$D/tree/d0/f0.conf
printf 'events = %s/big/events.json\n' "$D" >"$D/big/conf"
printf '[rule tree]\npaths = %s/\nrecursive = yes\n' "$D/tree" >"$D/big/pol/t.rules"
printf 'events = %s/small/events.json\n' "$D" >"$D/small/conf"
printf '[rule one]\npaths = %s\n' "$PROT" >"$D/small/pol/t.rules"
for p in big small; do
	"$FG" -c "$D/$p/conf" -p "$D/$p/pol" -s "$D/$p/st" init >/dev/null ||
		die "init ($p) failed"
done

RES=$SCRATCH/res
mkdir -p "$RES"
record() { printf '%s\n' "$2" >>"$RES/$1"; }
field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }
now() { date +%s.%N; }

# start_fg POLICY: a monitor (audit, -v), waits until it is monitoring;
# sets FG_PID, FG_CHILD and READY_S (the seconds that took).
start_fg() {
	local p=$1 t0 i
	t0=$(now)
	timeout -s KILL "$LIFETIME" "$FG" -c "$D/$p/conf" -p "$D/$p/pol" \
		-s "$D/$p/st" -v run --mode audit >"$SCRATCH/fg.out" \
		2>"$SCRATCH/fg.err" &
	FG_PID=$!
	for ((i = 0; i < 6000; i++)); do
		grep -q monitoring "$SCRATCH/fg.err" && break
		kill -0 "$FG_PID" 2>/dev/null ||
			{ cat "$SCRATCH/fg.err" >&2; die "fimguard run exited"; }
		sleep 0.01
	done
	if ! grep -q monitoring "$SCRATCH/fg.err"; then
		cat "$SCRATCH/fg.err" >&2
		for t in /proc/"$(ps -o pid= --ppid "$FG_PID" | tr -d ' ')"/task/*; do
			note "$t: $(cat "$t/comm") $(cat "$t/wchan") $(tr '\n' ' ' <"$t/stack" 2>/dev/null | cut -c1-300)"
		done
		die "fimguard run not ready"
	fi
	READY_S=$(echo "$(now) - $t0" | bc)
	FG_CHILD=$(ps -o pid= --ppid "$FG_PID" | tr -d ' ' | head -n 1)
}
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$FG_CHILD/status"; }
# the reconciliation's walk + scan + compare, from the -v log line
reconcile_s() {
	sed -n 's/.*reconciliation: walk \([0-9.]*\)s, scan \([0-9.]*\)s, compare and report \([0-9.]*\)s.*/\1 \2 \3/p' \
		"$SCRATCH/fg.err" | awk '{ printf "%.3f", $1 + $2 + $3 }'
}
opens() { # opens TAG: ns per open pinned, then opens/s with 4 openers
	local out
	taskset -a -p -c 0 "$FG_CHILD" >/dev/null
	out=$(timeout -s KILL "$LIFETIME" taskset -c 0 "$BIN/openbench" -n "$N" "$PROT")
	record "ns_$1" "$(field "$out" ns_per_op)"
	taskset -a -p -c "0-$(($(nproc) - 1))" "$FG_CHILD" >/dev/null
	out=$(timeout -s KILL "$LIFETIME" "$BIN/openbench" -k 4 -n "$N" "$PROT")
	record "ops_$1" "$(field "$out" ops_per_s)"
}

for ((r = 1; r <= REPS; r++)); do
	note "repetition $r/$REPS"
	t0=$(now)
	"$FG" -c "$D/big/conf" -p "$D/big/pol" -s "$D/big/st" check >/dev/null ||
		die "check found changes"
	record check "$(echo "$(now) - $t0" | bc)"
	start_fg big
	record ready "$READY_S"
	record rss "$(rss_mib)"
	record reconcile "$(reconcile_s)"
	opens big
	stop_fg
	start_fg small
	opens small
	stop_fg
done

note "$CYCLES create/delete cycles"
printf '[rule churn]\npaths = %s/\n' "$D/churn" >>"$D/small/pol/t.rules"
"$FG" -c "$D/small/conf" -p "$D/small/pol" -s "$D/small/st" init --force >/dev/null
start_fg small
settle() { # settle NAME: wait until the monitor has read up to a new file
	local i
	: >"$D/churn/$1"
	for ((i = 0; i < 12000; i++)); do
		grep -q "\"path\":\"$D/churn/$1\"" "$D/small/events.json" && return 0
		sleep 0.05
	done
	die "the monitor did not catch up"
}
"$BIN/churn" "$D/churn" 2000 100
settle warm
RSS0=$(rss_mib)
"$BIN/churn" "$D/churn" "$CYCLES" 100
settle done
RSS1=$(rss_mib)
stop_fg

# ---- report ----------------------------------------------------------------------
median() { sort -g "$RES/$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
CHECK=$(median check)
READY=$(median ready)
RSS=$(median rss)
REC=$(median reconcile)
NSB=$(median ns_big)
NSS=$(median ns_small)
OPB=$(median ops_big)
OPS=$(median ops_small)
MISSED=0
target() { # target LABEL VALUE OP LIMIT
	local ok
	ok=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { print (op == "<=" ? v <= l : v >= l) }')
	printf '| %s | %s | %s %s | %s |\n' "$1" "$2" "$3" "$4" "$([[ $ok == 1 ]] && echo ok || echo MISSED)"
	[[ $ok == 1 ]] || MISSED=1
}
printf '\nfimguard scale bench: %s, %d files, %d reps, load %s\n\n' \
	"$FIMGUARD" "$FILES" "$REPS" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| measurement | median |\n|---|---|\n'
printf '| `fimguard check` | %.2f s |\n' "$CHECK"
printf '| start-up reconciliation (walk, scan, compare) | %.2f s |\n' "$REC"
printf '| monitor ready | %.2f s |\n' "$READY"
printf '| monitor RSS when ready | %s MiB |\n' "$RSS"
printf '| open+close of a protected file, %d-file / 1-file policy | %s / %s ns |\n' "$FILES" "$NSB" "$NSS"
printf '| 4 openers, %d-file / 1-file policy | %s / %s opens/s |\n' "$FILES" "$OPB" "$OPS"
printf '| RSS after 2,000 / %d more create-delete cycles | %s / %s MiB |\n\n' "$CYCLES" "$RSS0" "$RSS1"
printf '| ratio | measured | target | |\n|---|---|---|---|\n'
target "reconciliation / check" "$(ratio "$REC" "$CHECK")" "<=" 1.2
target "ready, s" "$(printf '%.2f' "$READY")" "<=" 5
target "RSS, MiB" "$RSS" "<=" 64
target "open ns, large / small policy" "$(ratio "$NSB" "$NSS")" "<=" 1.1
target "opens/s, large / small policy" "$(ratio "$OPB" "$OPS")" ">=" 0.9
target "RSS after / before the cycles" "$(ratio "$RSS1" "$RSS0")" "<=" 1.1
[[ $STRICT == 1 && $MISSED == 1 ]] && exit 1
exit 0
