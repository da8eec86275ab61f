#!/usr/bin/env bash
# tests/bench/monitor.sh - cost of `fimguard run` for the processes it
# watches: open(2) of protected and unprotected files, permission events
# answered per second, and the delay from a write to its "modified" event.
#
# Run as root from anywhere: bash tests/bench/monitor.sh
#
# Environment:
#   FIMGUARD        binary to measure (default: ./fimguard at the repo root;
#                   a copy is measured, so a rebuild during the run is harmless)
#   BENCH_REPS      repetitions (default 5); medians are reported
#   BENCH_N         open+close calls per single-opener variant and in total
#                   for the 4-opener run (default 200000)
#   BENCH_WRITES    writes for the latency run (default 200)
#   BENCH_CHUNKS    rounds the single-opener variants are split into (default 10)
#   BENCH_PIN       where the single-opener variants run (default same):
#                     same   opener and listener on CPU 0: the listener's own
#                            work per event decides the result
#                     split  opener on CPU 0, listener on CPU 1: dominated by
#                            cross-CPU wake-ups (on this VM ~100 us each way)
#                     none   the scheduler decides: bimodal on a 2-CPU VM
#                   The 4-opener and latency runs are never pinned.
#   BENCH_LIFETIME  seconds a monitor may live before SIGKILL (default 600)
#   BENCH_PERF      a directory: after the measured repetitions, profile
#                   fimguard with perf record (DWARF call graphs) during one
#                   extra protected open loop of at most 30000 opens, and
#                   write perf.data and three perf report views there
#   BENCH_STRICT=1  exit 1 when a target is missed (default: report only)
#
# What is measured, per repetition, in two phases whose order alternates
# between repetitions:
#   no listener at all:
#   (a)  open+close of an unwatched file in another directory
#   (a') open+close of the sibling (below): a control for (d)
#   fimguard and the reference listener running side by side, each with
#   its own file, so that the pairs compared share the same moment:
#   (b) a protected file under reflistener (tests/bench/reflistener.c:
#       the minimum a FAN_OPEN_PERM listener does: read /proc/<tid>/syscall,
#       answer FAN_ALLOW with writev, close the event fd), in its own
#       directory
#   (c) the protected file under `fimguard run --mode audit`
#   (d) a sibling of the protected file (same directory, not covered by the
#       policy) under fimguard: only its directory is watched, by a
#       notification group, which should cost an open nothing
#   (e) the unwatched file while fimguard runs
#   The single-opener variants of a phase run as BENCH_CHUNKS rounds of
#   BENCH_N/BENCH_CHUNKS opens, round-robin, so a load burst or drift hits
#   them alike; ratios are the median over repetitions of the ratio
#   within each repetition.
#   4 openers (forked, released together) on fimguard's protected file and
#   on the reference's: events answered per second
#   close-after-write to "modified" event delay, BENCH_WRITES appends to
#   the protected file, under fimguard (audit mode; the reference stopped);
#   the event of a write is the "modified" line with the SHA-256 the file
#   has after it. Events that carry that hash with another size are
#   counted ("stale size").
#   CPU placement of the single-opener variants: BENCH_PIN above.
# Everything lives in a mktemp scratch directory with explicit -c/-p/-s;
# the real /etc/fimguard and /var/lib/fimguard are never used. Every
# listener is stopped on exit (SIGTERM, then SIGKILL): a permission
# listener left hanging would freeze every opener of its files.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/bench
REPS=${BENCH_REPS:-5}
N=${BENCH_N:-200000}
WRITES=${BENCH_WRITES:-200}
PIN=${BENCH_PIN:-same}
LIFETIME=${BENCH_LIFETIME:-600}
PERF_DIR=${BENCH_PERF:-}
STRICT=${BENCH_STRICT:-0}
FIMGUARD=${FIMGUARD:-$ROOT/fimguard}
CHUNKS=${BENCH_CHUNKS:-10}
OPENERS=4

die() { printf 'monitor-bench: %s\n' "$*" >&2; exit 2; }
note() { printf 'monitor-bench: %s\n' "$*" >&2; }

for v in REPS N WRITES LIFETIME CHUNKS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer"
done
((N >= OPENERS)) || die "BENCH_N must be at least $OPENERS"
case $PIN in same | split | none) ;; *) die "BENCH_PIN must be same, split or none" ;; esac
[[ $(id -u) -eq 0 ]] || die "run as root (fanotify permission events need CAP_SYS_ADMIN)"
command -v cc >/dev/null || die "no C compiler (cc)"
command -v taskset >/dev/null || die "no taskset (util-linux)"
[[ -z $PERF_DIR ]] || command -v perf >/dev/null || die "BENCH_PERF set but no perf"
NCPU=$(nproc)
[[ $PIN != split || $NCPU -ge 2 ]] || die "BENCH_PIN=split needs 2 CPUs"
[[ $FIMGUARD == */* ]] || FIMGUARD=./$FIMGUARD
FIMGUARD=$(realpath -e -- "$FIMGUARD" 2>/dev/null) ||
	die "no fimguard binary at ${FIMGUARD} (build it with make, or set FIMGUARD=)"
[[ -x $FIMGUARD ]] || die "not executable: $FIMGUARD"

# ---- scratch and cleanup ---------------------------------------------------
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/fimguard-monbench.XXXXXX")
FG_PID=    # the `timeout` wrapping the running fimguard
REF_PID=   # the `timeout` wrapping the running reflistener
PERF_PID=

# stop_tree PID: SIGTERM to a `timeout` wrapper (it passes the signal on to
# its command), then SIGKILL to both after 10 s.
stop_tree() {
	local pid=$1 kid i
	[[ -n $pid ]] || return 0
	kid=$(ps -o pid= --ppid "$pid" 2>/dev/null | tr -d ' ' || true)
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		note "pid $pid did not stop on SIGTERM; SIGKILL"
		[[ -z $kid ]] || kill -KILL "$kid" 2>/dev/null || true
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[[ -z $PERF_PID ]] || { kill -INT "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; }
	stop_tree "$FG_PID"
	stop_tree "$REF_PID"
	rm -rf -- "$SCRATCH"
	exit "$rc"
}
trap cleanup EXIT
trap 'printf "monitor-bench: line %s failed: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

# ---- helpers and the fixture -------------------------------------------------
BIN=$SCRATCH/bin
mkdir -p "$BIN"
cc -O2 -Wall -Wextra -o "$BIN/openbench" "$HERE/openbench.c" -lcrypto ||
	die "cannot build openbench (needs libssl-dev, a build dependency of fimguard)"
cc -O2 -Wall -Wextra -o "$BIN/reflistener" "$HERE/reflistener.c" || die "cannot build reflistener"
cp -- "$FIMGUARD" "$BIN/fimguard"
FG_ID="$FIMGUARD, sha256 $(sha256sum "$BIN/fimguard" | cut -c1-12)"
FG=$BIN/fimguard

D=$SCRATCH/fx
mkdir -p "$D/tree" "$D/other" "$D/ref" "$D/pol" "$D/log"
printf 'protected\n' >"$D/tree/protected"
printf 'sibling\n' >"$D/tree/sibling"
printf 'unwatched\n' >"$D/other/unwatched"
printf 'reference\n' >"$D/ref/protected"
PROT=$D/tree/protected
SIB=$D/tree/sibling
UNW=$D/other/unwatched
REFP=$D/ref/protected # the reference listener's file: it runs beside fimguard
EVENTS=$D/log/events.json
# Config grammar: "..." with \" and \\ escaped.
fg_quote() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}
printf 'events = %s\n' "$(fg_quote "$EVENTS")" >"$D/conf"
printf '[rule bench]\npaths = %s\n' "$(fg_quote "$PROT")" >"$D/pol/bench.rules"
FGARGS=(-c "$D/conf" -p "$D/pol" -s "$D/st")
"$FG" "${FGARGS[@]}" init >/dev/null 2>"$SCRATCH/init.err" ||
	{ cat "$SCRATCH/init.err" >&2; die "fimguard init failed"; }

# CPU placement of the single-opener variants.
case $PIN in
same) OPEN_CPU=0 LISTEN_CPU=0 ;;
split) OPEN_CPU=0 LISTEN_CPU=1 ;;
none) OPEN_CPU='' LISTEN_CPU='' ;;
esac
ALL_CPUS=0-$((NCPU - 1))
opener() { # opener PIN(0/1) ARGS...: run openbench, print its output line
	local pin=$1
	shift
	if [[ $pin == 1 && -n $OPEN_CPU ]]; then
		timeout -s KILL "$LIFETIME" taskset -c "$OPEN_CPU" "$BIN/openbench" -t "$LIFETIME" "$@"
	else
		timeout -s KILL "$LIFETIME" "$BIN/openbench" -t "$LIFETIME" "$@"
	fi || die "openbench $* failed"
}
# field LINE KEY: the value of KEY=value in LINE
field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }
RES=$SCRATCH/res
mkdir -p "$RES" "$SCRATCH/chunks"
record() { # record NAME VALUE
	[[ -n $2 ]] || die "no value for $1"
	printf '%s\n' "$2" >>"$RES/$1"
}

# wait_ready WRAPPER_PID ERRFILE PATTERN WHAT
wait_ready() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q -- "$3" "$2" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || { cat "$2" >&2; die "$4 exited before it was ready"; }
		sleep 0.1
	done
	cat "$2" >&2
	die "$4 not ready after 60 s"
}
# The process `timeout` runs (fimguard itself), for taskset and perf.
child_of() { ps -o pid= --ppid "$1" | tr -d ' ' | head -n 1; }

start_fg() {
	timeout -s KILL "$LIFETIME" "$FG" "${FGARGS[@]}" run --mode audit \
		>"$SCRATCH/fg.out" 2>"$SCRATCH/fg.err" &
	FG_PID=$!
	wait_ready "$FG_PID" "$SCRATCH/fg.err" monitoring "fimguard run"
	FG_CHILD=$(child_of "$FG_PID")
	[[ -n $FG_CHILD ]] || die "cannot find the fimguard process"
}
stop_fg() {
	stop_tree "$FG_PID"
	FG_PID=
	grep -qi 'stall\|fatal\|error' "$SCRATCH/fg.err" && {
		note "fimguard stderr:"
		cat "$SCRATCH/fg.err" >&2
	}
	return 0
}
start_ref() {
	timeout -s KILL "$LIFETIME" "$BIN/reflistener" -t "$LIFETIME" "$REFP" \
		2>"$SCRATCH/ref.err" &
	REF_PID=$!
	wait_ready "$REF_PID" "$SCRATCH/ref.err" ready reflistener
	REF_CHILD=$(child_of "$REF_PID")
	[[ -n $REF_CHILD ]] || die "cannot find the reflistener process"
}
stop_ref() {
	stop_tree "$REF_PID"
	REF_PID=
	note "$(tail -n 1 "$SCRATCH/ref.err")"
}
# Listeners (all fimguard threads with -a): pinned for the single-opener
# variants, free for the rest.
# taskset -a walks /proc/PID/task and fails when a thread ends meanwhile
# (fimguard's command line readers come and go): try again.
pin() {
	local i
	for i in 1 2 3 4 5; do
		taskset -a -p -c "$1" "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "cannot set the CPU affinity of $2 to $1"
}
listeners_pin() {
	[[ -z $LISTEN_CPU ]] && return 0
	pin "$LISTEN_CPU" "$FG_CHILD"
	pin "$LISTEN_CPU" "$REF_CHILD"
}
listeners_unpin() {
	pin "$ALL_CPUS" "$FG_CHILD"
	pin "$ALL_CPUS" "$REF_CHILD"
}
fg_events() { "$FG" "${FGARGS[@]}" status --json 2>/dev/null | sed -n 's/.*"events":\([0-9]*\).*/\1/p'; }

# chunked NAME=PATH...: the single-opener variants given, N opens each,
# as CHUNKS rounds of N/CHUNKS opens, round-robin (each round starts one
# variant further), so that load bursts and drift hit them all alike;
# records the mean ns/open of each.
chunked() {
	local -a names paths
	local v i k j out
	for v in "$@"; do
		names+=("${v%%=*}")
		paths+=("${v#*=}")
	done
	k=${#names[@]}
	rm -f -- "$SCRATCH"/chunks/*
	for ((i = 0; i < CHUNKS; i++)); do
		for ((j = 0; j < k; j++)); do
			v=$(((i + j) % k))
			out=$(opener 1 -n "$CHUNK_N" "${paths[v]}")
			field "$out" ns_per_op >>"$SCRATCH/chunks/${names[v]}"
		done
	done
	for v in "${names[@]}"; do
		record "$v" "$(awk '{ s += $1 } END { if (NR) printf "%.1f", s / NR }' "$SCRATCH/chunks/$v")"
	done
}

# No listener at all: the cost of open itself.
phase_none() {
	chunked a_unwatched="$UNW" a_sibling="$SIB"
}
# fimguard and the reference listener side by side, each on its own file.
phase_mon() { # phase_mon REP
	local out e0 e1 ops
	start_fg
	start_ref
	listeners_pin
	chunked b_ref="$REFP" c_prot="$PROT" d_sib="$SIB" e_unw="$UNW"
	listeners_unpin
	if (($1 % 2)); then
		out=$(opener 0 -k "$OPENERS" -n "$N" "$REFP")
		record t_ref "$(field "$out" ops_per_s)"
	fi
	e0=$(fg_events)
	out=$(opener 0 -k "$OPENERS" -n "$N" "$PROT")
	e1=$(fg_events)
	ops=$(field "$out" ops)
	record t_fg "$(field "$out" ops_per_s)"
	if [[ -n $e0 && -n $e1 ]] && ((e1 - e0 < ops)); then
		note "fimguard counted $((e1 - e0)) permission events for $ops opens"
	fi
	if ((!($1 % 2))); then
		out=$(opener 0 -k "$OPENERS" -n "$N" "$REFP")
		record t_ref "$(field "$out" ops_per_s)"
	fi
	stop_ref
	out=$(opener 0 --write-latency "$EVENTS" -m "$WRITES" "$PROT")
	record l_p50 "$(field "$out" p50_ms)"
	record l_p99 "$(field "$out" p99_ms)"
	record l_max "$(field "$out" max_ms)"
	record l_timeouts "$(field "$out" timeouts)"
	record l_badsize "$(field "$out" size_mismatch)"
	stop_fg
}

CHUNK_N=$((N / CHUNKS))
((CHUNK_N >= 1)) || die "BENCH_N must be at least BENCH_CHUNKS"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= REPS; r++)); do
	note "repetition $r/$REPS"
	if ((r % 2)); then
		phase_none
		phase_mon "$r"
	else
		phase_mon "$r"
		phase_none
	fi
done

# ---- optional profile (not part of the numbers) ------------------------------
if [[ -n $PERF_DIR ]]; then
	mkdir -p -- "$PERF_DIR"
	# DWARF call graphs: fimguard has no frame pointers. 30000 opens at
	# 1 kHz keep perf.data to some tens of MiB.
	PERF_N=$((N < 30000 ? N : 30000))
	note "profiling fimguard during $PERF_N protected opens (perf record --call-graph dwarf)"
	start_fg
	[[ -z $LISTEN_CPU ]] || pin "$LISTEN_CPU" "$FG_CHILD"
	perf record -q -F 999 --call-graph dwarf,8192 -p "$FG_CHILD" \
		-o "$PERF_DIR/perf.data" >/dev/null 2>&1 &
	PERF_PID=$!
	sleep 1
	opener 1 -n "$PERF_N" "$PROT" >/dev/null
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=
	stop_fg
	# perf.txt: self time per symbol with call graphs; perf-threads.txt:
	# self time per thread id and symbol (fimguard does not name its
	# threads; the permission thread is the one in fanotify_read);
	# perf-children.txt: inclusive time, to find fimguard's own functions.
	perf report -i "$PERF_DIR/perf.data" --no-children --sort sym --stdio 2>/dev/null |
		grep -v '^$' >"$PERF_DIR/perf.txt" || true
	perf report -i "$PERF_DIR/perf.data" --no-children --sort pid,sym --stdio -g none 2>/dev/null |
		grep -v '^$' >"$PERF_DIR/perf-threads.txt" || true
	perf report -i "$PERF_DIR/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
		grep -v '^$' >"$PERF_DIR/perf-children.txt" || true
	note "profile: $PERF_DIR/perf.txt, perf-threads.txt, perf-children.txt"
fi

# ---- report ------------------------------------------------------------------
median() {
	sort -g "$RES/$1" |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() { # range NAME DECIMALS: min..max
	sort -g "$RES/$1" | awk -v d="$2" 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.*f..%.*f", d, lo, d, hi }'
}
declare -A MED
for f in "$RES"/*; do
	MED[$(basename "$f")]=$(median "$(basename "$f")")
done

printf '\nfimguard monitor bench: %s reps, medians; N=%s opens per variant, %s openers, %s writes; pin=%s; %s, %s CPUs\n' \
	"$REPS" "$N" "$OPENERS" "$WRITES" "$PIN" "$(uname -r)" "$NCPU"
printf 'binary: %s\n' "$FG_ID"
printf 'load average at start: %s, at end: %s\n' "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-46s %12s %22s\n' measurement median 'min..max'
row() { printf '%-46s %12.*f %22s\n' "$1" "$3" "${MED[$2]}" "$(range "$2" "$3")"; }
row '(a) unwatched file, no monitor       ns/open' a_unwatched 0
row "(a') sibling, no monitor (control)   ns/open" a_sibling 0
row '(b) protected, reference listener    ns/open' b_ref 0
row '(c) protected, fimguard run          ns/open' c_prot 0
row '(d) sibling, fimguard run            ns/open' d_sib 0
row '(e) unwatched file, fimguard running ns/open' e_unw 0
row "$OPENERS openers on protected, reference  opens/s" t_ref 0
row "$OPENERS openers on protected, fimguard   opens/s" t_fg 0
row 'write -> "modified" event p50          ms' l_p50 2
row 'write -> "modified" event p99          ms' l_p99 2
row 'write -> "modified" event max          ms' l_max 2
printf '%-46s %12s\n' 'latency samples timed out (5 s), all reps' \
	"$(awk '{ s += $1 } END { print s + 0 }' "$RES/l_timeouts")"
printf '%-46s %12s\n' '"modified" with a stale size, all reps' \
	"$(awk '{ s += $1 } END { print s + 0 }' "$RES/l_badsize")"

missed=0
ratio() { # label value target op(le/ge)
	local res
	if awk -v v="$2" -v t="$3" -v op="$4" 'BEGIN { exit !(op == "le" ? v + 0 <= t + 0 : v + 0 >= t + 0) }'; then
		res=PASS
	else
		res=MISS
		missed=1
	fi
	printf '%-46s %12s %10s  %s\n' "$1" "$2" "$([[ $4 == le ]] && printf '<=' || printf '>=') $3" "$res"
}
# pratio NUM DEN: median over repetitions of NUM/DEN within a repetition
pratio() {
	paste -d' ' "$RES/$1" "$RES/$2" | awk '{ print ($2 > 0 ? $1 / $2 : "inf") }' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) r = v[(NR + 1) / 2]; else r = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", r }'
}
printf '\n%-46s %12s %10s  %s\n' target value target result
ratio 'protected: fimguard / reference (c/b)' "$(pratio c_prot b_ref)" 1.3 le
ratio 'sibling / unwatched, no monitor (d/a)' "$(pratio d_sib a_unwatched)" 1.05 le
ratio "events/s, $OPENERS openers, fimguard" "$(printf '%.0f' "${MED[t_fg]}")" 30000 ge
ratio 'write -> event p99 ms' "$(printf '%.2f' "${MED[l_p99]}")" 50 le
printf '\n%-46s %12s\n' 'for reading the above (per-repetition ratios)' value
printf '%-46s %12s\n' 'sibling / unwatched, fimguard running (d/e)' "$(pratio d_sib e_unw)"
printf '%-46s %12s\n' "control: sibling / unwatched, none (a'/a)" "$(pratio a_sibling a_unwatched)"
printf '%-46s %12s\n' 'unwatched: fimguard running / none (e/a)' "$(pratio e_unw a_unwatched)"
printf '%-46s %12s\n' "$OPENERS openers: fimguard / reference" "$(pratio t_fg t_ref)"
printf '\nper repetition:\n'
for f in "$RES"/*; do
	printf '  %-12s %s\n' "$(basename "$f")" "$(tr '\n' ' ' <"$f")"
done
if [[ $STRICT == 1 && $missed == 1 ]]; then exit 1; fi
exit 0
