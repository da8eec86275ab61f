#!/usr/bin/env bash
# tests/bench/run.sh - fimguard init/check against AIDE and a raw xxhsum pass.
#
# Called by `make bench` from the repository root. Run as root (fimguard and
# AIDE must be able to read the whole tree; apt-get installs what is missing).
#
# Environment:
#   FIMGUARD            binary to measure        (default: ./fimguard at the repo root)
#   BENCH_TREE          corpus directory         (default: /usr/share)
#   BENCH_REPS          repetitions per command  (default: 5; medians are reported)
#   BENCH_AIDE_WORKERS  AIDE num_workers         (default: unset = AIDE's own default, 1 in 0.18)
#   BENCH_XXH_ALGO      xxhsum -H value          (default: 3 = XXH3-64 if supported, else 2 = XXH128)
#   BENCH_SKIP_FIMGUARD=1  measure only AIDE and xxhsum (no fimguard binary needed)
#   BENCH_REWARM        1 = re-read the tree before every measured command (default),
#                       0 = warm the page cache once only
#   BENCH_STRICT=1      exit 1 when a target is missed (default: report only)
#
# What is compared, and why it is fair:
#   fimguard init records type, mode, uid, gid, size, mtime, ctime, inode,
#   nlink, symlink target and xattrs, and hashes every regular file with both
#   XXH3 and SHA-256. AIDE is therefore given
#       p+ftype+i+l+n+u+g+s+m+c+xattrs+sha256
#   i.e. the same metadata plus one SHA-256 (no md5/acl/selinux/e2fsattrs/
#   caps, which fimguard does not record). `fimguard check` rehashes with
#   XXH3 only and confirms with SHA-256 only on a mismatch, so its floor is a
#   plain XXH3 pass over the tree: `find | xargs -P2 xxhsum`.
#   Both tools get a private database and state directory in a scratch dir;
#   the real /etc/fimguard and /var/lib/fimguard are never used (explicit
#   -c/-p/-s on every call, checked before and after).
#   fimguard never crosses into another filesystem; AIDE has no such option,
#   so pick a BENCH_TREE that is a single filesystem (find -xdev follows
#   fimguard for the reference).
#   The page cache is warmed once, and by default again (one cat of the
#   tree, not timed) before every measured command: hosts with proactive
#   reclaim (DAMON pageout, as on the VM this was written on, or memory
#   balloons) evict page cache that is read only about once a minute, which
#   is exactly the access pattern of a benchmark like this one, and the
#   command that happens to run after an eviction pays for disk reads.
#   Commands are interleaved per repetition so drift hits all of them alike.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TREE=${BENCH_TREE:-/usr/share}
REPS=${BENCH_REPS:-5}
FIMGUARD=${FIMGUARD:-$ROOT/fimguard}
SKIP_FG=${BENCH_SKIP_FIMGUARD:-0}
STRICT=${BENCH_STRICT:-0}
REWARM=${BENCH_REWARM:-1}

die() { printf 'bench: %s\n' "$*" >&2; exit 2; }
note() { printf 'bench: %s\n' "$*" >&2; }

[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPS must be a positive integer"
[[ $(id -u) -eq 0 ]] || die "run as root (fimguard and aide must read all of $TREE)"
TREE=$(realpath -e -- "$TREE" 2>/dev/null) || die "no such tree: ${BENCH_TREE:-/usr/share}"
[[ -d $TREE ]] || die "not a directory: $TREE"
if [[ $SKIP_FG != 1 ]]; then
	[[ $FIMGUARD == */* ]] || FIMGUARD=./$FIMGUARD
	fg_abs=$(realpath -e -- "$FIMGUARD" 2>/dev/null) ||
		die "no fimguard binary at $FIMGUARD (build it with make, or set FIMGUARD=, or BENCH_SKIP_FIMGUARD=1)"
	FIMGUARD=$fg_abs
	[[ -x $FIMGUARD ]] || die "not executable: $FIMGUARD"
fi

# ---- tools ---------------------------------------------------------------
need=()
command -v aide >/dev/null || need+=(aide)
command -v xxhsum >/dev/null || need+=(xxhash)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
	note "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${need[@]}" >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; } ||
		die "could not install ${need[*]}"
fi
AIDE=$(command -v aide)
XXHSUM=$(command -v xxhsum)

# xxhash 0.8.1 (Debian 12) has -H3 (XXH3, 64-bit); older builds only -H0..2.
XXH_ALGO=${BENCH_XXH_ALGO:-}
if [[ -z $XXH_ALGO ]]; then
	if printf x | "$XXHSUM" -H3 >/dev/null 2>&1; then XXH_ALGO=3; else XXH_ALGO=2; fi
fi
printf x | "$XXHSUM" "-H$XXH_ALGO" >/dev/null 2>&1 || die "xxhsum does not support -H$XXH_ALGO"

# ---- scratch ---------------------------------------------------------------
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/fimguard-bench.XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() { rm -rf -- "$SCRATCH"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Fingerprint the real install locations; they must be the same afterwards.
real_state() {
	local d
	for d in /etc/fimguard /var/lib/fimguard; do
		if [[ -e $d ]]; then
			find "$d" -xdev -printf '%p %s %T@ %C@\n' 2>/dev/null | sort
		else
			printf '%s absent\n' "$d"
		fi
	done
}
real_state >"$SCRATCH/real.before"

# Quote a value for the fimguard config grammar: "..." with \" and \\.
fg_quote() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

mkdir -p "$SCRATCH/policy.d" "$SCRATCH/aide"
# Measure a snapshot: a `make` during the run must not swap the binary.
if [[ $SKIP_FG != 1 ]]; then
	cp -- "$FIMGUARD" "$SCRATCH/fimguard"
	FG_ID="$FIMGUARD, sha256 $(sha256sum "$SCRATCH/fimguard" | cut -c1-12)"
	FIMGUARD=$SCRATCH/fimguard
fi
FG_STATE=$SCRATCH/state
FG_CONF=$SCRATCH/fimguard.conf
FG_POLICY=$SCRATCH/policy.d
# packages = none: AIDE checks nothing against the package database, so
# neither does fimguard here; tests/bench/packages.sh measures that part.
cat >"$FG_CONF" <<EOF
mode = audit
events = $(fg_quote "$SCRATCH/events.json")
unknown_intent = deny
packages = none
EOF
TREE_SLASH=${TREE%/}/
cat >"$FG_POLICY/bench.rules" <<EOF
[rule bench]
paths = $(fg_quote "$TREE_SLASH")
recursive = yes
severity = low
EOF

# AIDE selection lines are regular expressions (implicit ^); escape the tree
# path: regex metacharacters with '\', and ' ', '@' with AIDE's own '\'.
aide_regex() {
	printf '%s' "$1" | sed -e 's/[][\.^$*+?(){}|]/\\&/g' -e 's/[ @]/\\&/g'
}
AIDE_CONF=$SCRATCH/aide/aide.conf
{
	printf 'database_in=file:%s\n' "$SCRATCH/aide/aide.db"
	printf 'database_out=file:%s\n' "$SCRATCH/aide/aide.db.new"
	printf 'gzip_dbout=no\n'
	# AIDE's default database_attrs=H runs every hash it has (md5, sha1,
	# sha512, whirlpool, gost, ...) over its own database; one SHA-256 is the
	# counterpart of fimguard's HMAC-SHA256 over baseline.json.
	printf 'database_attrs=sha256\n'
	printf 'report_url=stdout\n'
	[[ -n ${BENCH_AIDE_WORKERS:-} ]] && printf 'num_workers=%s\n' "$BENCH_AIDE_WORKERS"
	printf 'FIM = p+ftype+i+l+n+u+g+s+m+c+xattrs+sha256\n'
	printf '%s FIM\n' "$(aide_regex "${TREE%/}")"
} >"$AIDE_CONF"
"$AIDE" --config-check "--config=$AIDE_CONF" >/dev/null 2>"$SCRATCH/aide.err" ||
	{ cat "$SCRATCH/aide.err" >&2; die "aide rejects the generated config"; }

# ---- measuring -------------------------------------------------------------
# measure NAME OKCODES CMD...: runs CMD under GNU time, appends
# "wall_s maxrss_kb user_s sys_s" to $SCRATCH/NAME.times. OKCODES is a
# space-separated list of acceptable exit codes.
measure() {
	local name=$1 ok=$2 rc=0
	shift 2
	[[ $REWARM != 1 ]] || warm
	/usr/bin/time -q -f '%e %M %U %S' -o "$SCRATCH/time.out" "$@" \
		>"$SCRATCH/$name.stdout" 2>"$SCRATCH/$name.stderr" || rc=$?
	if [[ " $ok " != *" $rc "* ]]; then
		note "$name exited $rc; stderr follows"
		tail -n 20 "$SCRATCH/$name.stderr" >&2
		die "$name failed"
	fi
	tail -n 1 "$SCRATCH/time.out" >>"$SCRATCH/$name.times"
	printf '%s' "$rc" >"$SCRATCH/$name.rc"
}

# shellcheck disable=SC2317 # run through `bash -c` by measure
xxh_pass() {
	# $1 tree, $2 algorithm, $3 xxhsum: the hardware floor of a check.
	set -o pipefail
	find "$1" -xdev -type f -print0 | xargs -0 -r -P2 "$3" "-H$2" >/dev/null
}
export -f xxh_pass

nfiles=$(find "$TREE" -xdev -type f | wc -l)
mib=$(du -sx --apparent-size -m -- "$TREE" | cut -f1)
warm() { find "$TREE" -xdev -type f -print0 | xargs -0 -r -P2 cat >/dev/null 2>&1 || true; }
note "corpus $TREE: $nfiles regular files, $mib MiB; warming the page cache"
warm

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
names=()
[[ $SKIP_FG == 1 ]] || names+=(fg_init fg_check)
names+=(aide_init aide_check xxhsum)
for ((r = 1; r <= REPS; r++)); do
	note "repetition $r/$REPS"
	if [[ $SKIP_FG != 1 ]]; then
		measure fg_init 0 "$FIMGUARD" -c "$FG_CONF" -p "$FG_POLICY" -s "$FG_STATE" init --force
		# 1 = changes: the corpus moved under us; still a full check, so it counts.
		measure fg_check "0 1" "$FIMGUARD" -c "$FG_CONF" -p "$FG_POLICY" -s "$FG_STATE" check
		[[ $(<"$SCRATCH/fg_check.rc") == 0 ]] ||
			note "fimguard check reported changes: $(head -n 1 "$SCRATCH/fg_check.stdout")"
	fi
	rm -f -- "$SCRATCH/aide/aide.db.new"
	measure aide_init 0 "$AIDE" --init "--config=$AIDE_CONF"
	mv -f -- "$SCRATCH/aide/aide.db.new" "$SCRATCH/aide/aide.db"
	# aide --check: 0 = no differences, 1..7 = added/removed/changed entries.
	measure aide_check "0 1 2 3 4 5 6 7" "$AIDE" --check "--config=$AIDE_CONF"
	[[ $(<"$SCRATCH/aide_check.rc") == 0 ]] ||
		note "aide --check reported differences (exit $(<"$SCRATCH/aide_check.rc"))"
	measure xxhsum 0 bash -c 'xxh_pass "$@"' _ "$TREE" "$XXH_ALGO" "$XXHSUM"
done

real_state >"$SCRATCH/real.after"
cmp -s "$SCRATCH/real.before" "$SCRATCH/real.after" ||
	die "/etc/fimguard or /var/lib/fimguard changed during the bench: fimguard ignored -c/-p/-s, or something else wrote there"

# ---- report ----------------------------------------------------------------
# median FILE COLUMN
median() {
	awk -v c="$2" '{ print $c }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
declare -A T M C LO HI
for n in "${names[@]}"; do
	LO[$n]=$(sort -g -k1,1 "$SCRATCH/$n.times" | head -n 1 | cut -d' ' -f1)
	HI[$n]=$(sort -g -k1,1 "$SCRATCH/$n.times" | tail -n 1 | cut -d' ' -f1)
	T[$n]=$(median "$SCRATCH/$n.times" 1)
	M[$n]=$(median "$SCRATCH/$n.times" 2)
	C[$n]=$(awk '{ print $3 + $4 }' "$SCRATCH/$n.times" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
done
declare -A LABEL=([fg_init]="fimguard init --force" [fg_check]="fimguard check"
	[aide_init]="aide --init" [aide_check]="aide --check" [xxhsum]="xxhsum -H$XXH_ALGO (xargs -P2)")

printf '\nfimguard bench: %s (%s files, %s MiB), %s reps, medians; aide num_workers=%s; re-warm=%s; %s, %s CPUs\n' \
	"$TREE" "$nfiles" "$mib" "$REPS" "${BENCH_AIDE_WORKERS:-default}" "$REWARM" "$(uname -r)" "$(nproc)"
[[ $SKIP_FG == 1 ]] || printf 'binary: %s\n' "$FG_ID"
printf 'load average at start: %s, at end: %s\n' "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %10s %15s %10s %14s\n' command wall_s 'wall min..max' cpu_s peak_rss_MiB
for n in "${names[@]}"; do
	printf '%-26s %10.2f %15s %10.2f %14.1f\n' "${LABEL[$n]}" "${T[$n]}" "${LO[$n]}..${HI[$n]}" \
		"${C[$n]}" "$(awk -v k="${M[$n]}" 'BEGIN { print k / 1024 }')"
done

missed=0
ratio() { # label numerator denominator target
	local v res
	v=$(awk -v a="$2" -v b="$3" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "inf" }')
	if awk -v v="$v" -v t="$4" 'BEGIN { exit !(v != "inf" && v + 0 <= t + 0) }'; then
		res=PASS
	else
		res=MISS
		missed=1
	fi
	printf '%-34s %8s %8s  %s\n' "$1" "$v" "<= $4" "$res"
}
if [[ $SKIP_FG != 1 ]]; then
	printf '\n%-34s %8s %8s  %s\n' ratio value target result
	ratio "init time / aide --init time" "${T[fg_init]}" "${T[aide_init]}" 0.25
	ratio "check time / aide --check time" "${T[fg_check]}" "${T[aide_check]}" 0.1
	ratio "check time / xxhsum time" "${T[fg_check]}" "${T[xxhsum]}" 1.5
	ratio "init peak RSS / aide --init RSS" "${M[fg_init]}" "${M[aide_init]}" 0.5
	ratio "check peak RSS / aide --check RSS" "${M[fg_check]}" "${M[aide_check]}" 0.5
else
	printf '\n(fimguard skipped: BENCH_SKIP_FIMGUARD=1, no ratios)\n'
fi
if [[ $STRICT == 1 && $missed == 1 ]]; then exit 1; fi
exit 0
