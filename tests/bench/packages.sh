#!/usr/bin/env bash
# tests/bench/packages.sh - package verification against a plain check,
# with debsums as the reference (issue 10's speed target).
#
# Called by `make bench` from the repository root, as root, on a Debian
# host (dpkg's database; apt-get installs debsums when missing).
#
# Environment:
#   FIMGUARD          binary to measure       (default: ./fimguard at the repo root)
#   BENCH_PKG_TREE    tree to protect         (default: /usr)
#   BENCH_REPS        repetitions per command (default: 5; medians are reported)
#   BENCH_SKIP_DEBSUMS=1  leave the reference out (it takes minutes on /usr)
#   BENCH_REWARM      1 = read the tree again before every measured command
#                     (default: this VM's host evicts file cache idle for a
#                     minute, and debsums takes minutes), 0 = once
#   BENCH_STRICT=1    exit 1 when a target is missed (default: report only)
#
# What is measured, on one baseline of the tree made once (init, with
# packages = dpkg: every owned file hashed with MD5 too, untimed):
#   fimguard check                       the floor: walk, keyed XXH3, compare
#   fimguard check --verify-packages     the same plus dpkg's database read
#                                        and every unchanged owned file
#                                        checked against it
#   fimguard approve --packages --dry-run   the same plus the full baseline
#                                        load a new baseline needs
#   debsums -s                           dpkg's MD5 of every packaged file
#                                        (all packages: debsums cannot be
#                                        limited to a tree; on a merged-/usr
#                                        host nearly all of them are in /usr)
# Targets: verify and approve <= 1.5 x check. Why verify is not a second
# MD5 pass over the tree: the baseline, under its HMAC, records for each
# owned file the package digest its content matched; the keyed XXH3 that
# check computes anyway says the content is still that (fimguard(8),
# THE TRUST CHAIN). debsums has no baseline, so it hashes everything.
# The page cache is warmed (the whole tree is read) before each command,
# and commands are interleaved per repetition. The real /etc/fimguard and /var/lib/fimguard
# are never used.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TREE=${BENCH_PKG_TREE:-/usr}
REPS=${BENCH_REPS:-5}
FIMGUARD=${FIMGUARD:-$ROOT/fimguard}
STRICT=${BENCH_STRICT:-0}
SKIP_DEBSUMS=${BENCH_SKIP_DEBSUMS:-0}
REWARM=${BENCH_REWARM:-1}

die() { printf 'bench: %s\n' "$*" >&2; exit 2; }
note() { printf 'bench: %s\n' "$*" >&2; }

[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPS must be a positive integer"
[[ $(id -u) -eq 0 ]] || die "run as root (every file of $TREE must be readable)"
[[ -s /var/lib/dpkg/status ]] || die "no dpkg database on this host"
TREE=$(realpath -e -- "$TREE") || die "no such tree: $TREE"
FIMGUARD=$(realpath -e -- "$FIMGUARD") || die "no fimguard binary (make)"
if [[ $SKIP_DEBSUMS != 1 ]] && ! command -v debsums >/dev/null; then
	note "installing debsums"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends debsums >/dev/null || die "no debsums"
fi

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/fimguard-bench-pkg.XXXXXX")
trap 'rm -rf -- "$SCRATCH"' EXIT
trap 'exit 130' INT TERM
cp -- "$FIMGUARD" "$SCRATCH/fimguard"
FG="$SCRATCH/fimguard -c $SCRATCH/fimguard.conf -p $SCRATCH/policy.d -s $SCRATCH/state"
mkdir -p "$SCRATCH/policy.d"
printf 'mode = audit\nevents = "%s/events.json"\npackages = dpkg\n' \
    "$SCRATCH" > "$SCRATCH/fimguard.conf"
printf '[rule bench]\npaths = "%s/"\nrecursive = yes\nseverity = low\n' \
    "${TREE%/}" > "$SCRATCH/policy.d/bench.rules"

warm() { find "$TREE" -xdev -type f -print0 | xargs -0 -r -P2 cat >/dev/null 2>&1 || true; }
note "corpus $TREE: warming the page cache"
warm
note "baseline (init, untimed)"
$FG init >/dev/null 2>"$SCRATCH/init.err" || { tail "$SCRATCH/init.err" >&2; die "init failed"; }
mismatch=$(grep -c '^package-mismatch ' "$SCRATCH/init.err" || true)

# measure NAME OKCODES CMD...: appends "wall_s maxrss_kb" to NAME.times
measure() {
	local name=$1 ok=$2 rc=0
	shift 2
	[[ $REWARM != 1 ]] || warm
	/usr/bin/time -q -f '%e %M' -o "$SCRATCH/time.out" "$@" \
	    >"$SCRATCH/$name.out" 2>"$SCRATCH/$name.err" || rc=$?
	[[ " $ok " == *" $rc "* ]] || { tail "$SCRATCH/$name.err" >&2; die "$name exited $rc"; }
	tail -n 1 "$SCRATCH/time.out" >>"$SCRATCH/$name.times"
}
names=(check verify approve)
[[ $SKIP_DEBSUMS == 1 ]] || names+=(debsums)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= REPS; r++)); do
	note "repetition $r/$REPS"
	# 1: changes or package-mismatch found (a host's own edits); still
	# a full run, so it counts
	measure check "0 1" $FG check
	measure verify "0 1" $FG check --verify-packages
	measure approve "0" $FG approve --packages --dry-run
	[[ $SKIP_DEBSUMS == 1 ]] || measure debsums "0 1 2" debsums -s
done

median() {
	awk -v c="$2" '{ print $c }' "$1" | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
declare -A T M LABEL=([check]="fimguard check" [verify]="fimguard check --verify-packages"
	[approve]="fimguard approve --packages --dry-run" [debsums]="debsums -s (all packages)")
for n in "${names[@]}"; do
	T[$n]=$(median "$SCRATCH/$n.times" 1)
	M[$n]=$(median "$SCRATCH/$n.times" 2)
done
owned=$(grep -o '[0-9]* unchanged files' "$SCRATCH/verify.out" | head -n1 | cut -d' ' -f1)
printf '\nfimguard package bench: %s (%s entries, %s owned by packages, %s package-mismatch at init), %s reps, medians; re-warm=%s; %s, %s CPUs\n' \
    "$TREE" "$(grep -o '([0-9]* entries)' "$SCRATCH/check.out" | tr -dc 0-9)" "${owned:-?}" \
    "$mismatch" "$REPS" "$REWARM" "$(uname -r)" "$(nproc)"
printf 'load average at start: %s, at end: %s\n' "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %10s %14s\n' command wall_s peak_rss_MiB
for n in "${names[@]}"; do
	printf '%-40s %10.2f %14.1f\n' "${LABEL[$n]}" "${T[$n]}" \
	    "$(awk -v k="${M[$n]}" 'BEGIN { print k / 1024 }')"
done
missed=0
ratio() {
	local v res
	v=$(awk -v a="$2" -v b="$3" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "inf" }')
	if [[ -z $4 ]]; then
		res=reference
	elif awk -v v="$v" -v t="$4" 'BEGIN { exit !(v != "inf" && v + 0 <= t + 0) }'; then
		res=PASS
	else
		res=MISS
		missed=1
	fi
	printf '%-44s %8s %8s  %s\n' "$1" "$v" "${4:+<= $4}" "$res"
}
printf '\n%-44s %8s %8s  %s\n' ratio value target result
ratio "check --verify-packages / check" "${T[verify]}" "${T[check]}" 1.5
ratio "approve --packages / check" "${T[approve]}" "${T[check]}" 1.5
[[ $SKIP_DEBSUMS == 1 ]] ||
	ratio "check --verify-packages / debsums" "${T[verify]}" "${T[debsums]}" ""
if [[ $STRICT == 1 && $missed == 1 ]]; then exit 1; fi
exit 0
