#!/usr/bin/env bash
# Package install test (make test-packages, after make deb and make rpm):
# file lists and metadata of both packages; then the .deb installed on
# this machine, its fimguard run against the shipped default policy in a
# scratch state directory, its units verified, and a purge that leaves
# nothing behind but state the user created. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
DEB=$(ls build/deb/fimguard_*_*.deb 2>/dev/null | head -n1)
RPM=$(ls build/rpm/RPMS/*/fimguard-*.rpm 2>/dev/null | head -n1)
SCRATCH=$(mktemp -d)
pass=0 fail=0

ok() { echo "ok   - $1"; pass=$((pass + 1)); }
ko() { echo "FAIL - $1"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else ko "$what"; fi; }
HOOKPKG=fimguard-test-hook-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
HOOKDIR=/opt/$HOOKPKG
cleanup() {
	dpkg -s "$HOOKPKG" >/dev/null 2>&1 && dpkg --purge "$HOOKPKG" >/dev/null 2>&1
	rm -rf "$HOOKDIR"
	dpkg -s fimguard >/dev/null 2>&1 && dpkg --purge fimguard >/dev/null 2>&1
	rm -rf "$SCRATCH"
}
trap cleanup EXIT

[ -n "$DEB" ] && ok "deb built: $DEB" || { ko "no .deb (run make deb)"; exit 1; }
[ -n "$RPM" ] && ok "rpm built: $RPM" || ko "no .rpm (run make rpm)"

# --- .deb contents and metadata ---
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' > "$SCRATCH/deb.list"
for f in /usr/sbin/fimguard /etc/fimguard/fimguard.conf \
    /etc/fimguard/policy.d/10-ssh.rules /etc/cron.d/fimguard \
    /etc/logrotate.d/fimguard /usr/share/man/man8/fimguard.8.gz \
    /usr/share/man/man5/fimguard.conf.5.gz \
    /usr/share/man/man5/fimguard-events.5.gz /var/lib/fimguard/; do
	check "deb ships $f" grep -qx "$f" "$SCRATCH/deb.list"
done
for u in fimguard.service fimguard-check.service fimguard-check.timer; do
	check "deb ships unit $u" grep -Eq "^/(usr/)?lib/systemd/system/$u$" "$SCRATCH/deb.list"
done
check "deb ships sysusers and tmpfiles" grep -Eq "^/usr/lib/(sysusers|tmpfiles)\.d/fimguard\.conf$" "$SCRATCH/deb.list"
dpkg-deb -e "$DEB" "$SCRATCH/ctl"
check "policy and config are conffiles" grep -qx /etc/fimguard/policy.d/10-ssh.rules "$SCRATCH/ctl/conffiles"
check "config is a conffile" grep -qx /etc/fimguard/fimguard.conf "$SCRATCH/ctl/conffiles"
check "dpkg hook is a conffile" grep -qx /etc/dpkg/dpkg.cfg.d/fimguard "$SCRATCH/ctl/conffiles"
check "dpkg hook runs approve --packages --hook after dpkg" sh -c "dpkg-deb --fsys-tarfile '$DEB' | tar -xO ./etc/dpkg/dpkg.cfg.d/fimguard | grep -q '^post-invoke=.*fimguard approve --packages --hook'"
check "depends on librpm (rpm databases read through it)" sh -c "dpkg-deb -f '$DEB' Depends | grep -q librpm"
check "depends on json-c and xxhash" sh -c "dpkg-deb -f '$DEB' Depends | grep -q libjson-c && dpkg-deb -f '$DEB' Depends | grep -q libxxhash"
check "depends on zlib (events reads rotated .gz copies)" sh -c "dpkg-deb -f '$DEB' Depends | grep -q zlib1g"
check "state directory is 0700 in the package" sh -c "dpkg-deb -c '$DEB' | grep -E ' \./var/lib/fimguard/$' | grep -q '^drwx------'"
if grep -Eq 'deb-systemd-invoke (\$_dh_action|start|restart) .*fimguard\.service' "$SCRATCH/ctl/postinst"; then
	ko "monitor not enabled or started on install"
else
	ok "monitor not enabled or started on install"
fi
check "a running monitor is restarted after an upgrade" grep -q "try-restart fimguard.service" "$SCRATCH/ctl/postinst"

# --- .rpm contents and metadata ---
if [ -n "$RPM" ]; then
	rpm -qlp "$RPM" 2>/dev/null > "$SCRATCH/rpm.list"
	for f in /usr/sbin/fimguard /etc/fimguard/fimguard.conf \
	    /etc/fimguard/policy.d/10-ssh.rules /usr/lib/systemd/system/fimguard.service \
	    /usr/lib/systemd/system/fimguard-check.timer /usr/lib/sysusers.d/fimguard.conf \
	    /usr/lib/tmpfiles.d/fimguard.conf /usr/share/man/man8/fimguard.8.gz \
	    /usr/share/man/man5/fimguard.conf.5.gz \
	    /usr/share/man/man5/fimguard-events.5.gz /var/lib/fimguard; do
		check "rpm ships $f" grep -qx "$f" "$SCRATCH/rpm.list"
	done
	check "rpm config is %config(noreplace)" sh -c "rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' '$RPM' 2>/dev/null | grep -q '^/etc/fimguard/fimguard.conf cn'"
	check "rpm scriptlets call systemctl" sh -c "rpm -qp --scripts '$RPM' 2>/dev/null | grep -q systemctl"
	check "rpm file triggers run approve --packages --hook" sh -c "rpm -qp --filetriggers '$RPM' 2>/dev/null | grep -c 'approve --packages --hook' | grep -qx 5"
fi

# --- the rpm file triggers, run for real: the .rpm installed by rpm into a
# scratch root (with a shell, cat, and the libraries fimguard needs, so
# that rpm can run its scriptlets there in a chroot), a baseline made in
# it, then a test package installed, upgraded and erased by rpm: each
# transaction's trigger runs approve --packages inside the root ---
rpm_root_prepare() {
	local r=$1 b l
	mkdir -p "$r/dev" "$r/tmp" "$r/var/tmp" "$r/etc/rpm" "$r/var/lib/fimguard"
	mknod -m 666 "$r/dev/null" c 1 3 || return 1
	# librpm inside the root finds the database where rpm --root puts it
	cp -L --parents /usr/lib/rpm/macros /usr/lib/rpm/rpmrc "$r/" || return 1
	printf '%%_dbpath %s\n' "$(rpm --eval %_dbpath)" > "$r/etc/rpm/macros"
	rpm --root "$r" --initdb &&
	    rpm --root "$r" -i --nodeps --noscripts "$RPM" >/dev/null 2>&1 || return 1
	cp -L --parents /bin/sh /bin/cat "$r/" || return 1
	for b in /bin/sh /bin/cat "$r/usr/sbin/fimguard"; do
		ldd "$b" | awk '/=>/ { print $3 } /^\t\// { print $1 }'
	done | sort -u | while read -r l; do
		[ -e "$l" ] && cp -L --parents "$l" "$r/"
	done
	rm -f "$r"/etc/fimguard/policy.d/*.rules
	printf 'mode = audit\nevents = /var/lib/fimguard/events.json\npackages = rpm\n' \
	    > "$r/etc/fimguard/fimguard.conf"
	printf '[rule rpmhook]\npaths = /opt/%s/\nrecursive = yes\nexclude = *.rpmnew *.rpmsave\n' \
	    "$HOOKPKG" > "$r/etc/fimguard/policy.d/10-rpmhook.rules"
}
rpm_test_pkg() {	# version content: builds $SCRATCH/rb/RPMS/noarch/...
	local v=$1 st=$SCRATCH/rpmstage-$1
	mkdir -p "$st/opt/$HOOKPKG"
	printf '%s\n' "$2" > "$st/opt/$HOOKPKG/tool"
	cat > "$SCRATCH/rpm-$v.spec" <<-EOF
	Name: $HOOKPKG
	Version: $v
	Release: 1
	Summary: fimguard trigger test
	License: MIT
	BuildArch: noarch
	%description
	fimguard trigger test
	%install
	cp -a $st/. %{buildroot}/
	%files
	%dir /opt/$HOOKPKG
	/opt/$HOOKPKG/tool
	EOF
	rpmbuild --define "_topdir $SCRATCH/rb" --define "_buildshell /bin/bash" \
	    --define "__os_install_post %{nil}" --nodeps -bb "$SCRATCH/rpm-$v.spec" >/dev/null 2>&1
}
RR=$SCRATCH/rpmroot
rpm_in() { chroot "$RR" /usr/sbin/fimguard "$@"; }
rpm_hist() { grep "\"name\":\"$HOOKPKG\"" "$RR/var/lib/fimguard/history.jsonl" 2>/dev/null | grep -q "$1"; }
if [ -z "$RPM" ] || ! command -v rpmbuild >/dev/null; then
	ko "rpm file triggers: no .rpm or no rpmbuild"
elif ! rpm_root_prepare "$RR"; then
	ko "rpm file triggers: cannot prepare a scratch root for rpm"
elif ! rpm_test_pkg 1.0 one || ! rpm_test_pkg 2.0 two; then
	ko "rpm file triggers: cannot build the test packages"
else
	PKGS=$SCRATCH/rb/RPMS/noarch
	check "rpm root: fimguard init inside it" rpm_in init
	check "rpm -i of a package (transfiletriggerin)" rpm --root "$RR" --nodeps -i "$PKGS/$HOOKPKG-1.0-1.noarch.rpm"
	check "the trigger accepted the new package: check clean" rpm_in check
	check "rpm -U of an upgrade (transfiletriggerin)" rpm --root "$RR" --nodeps -U "$PKGS/$HOOKPKG-2.0-1.noarch.rpm"
	check "the trigger accepted the upgrade: check clean" rpm_in check
	check "history: the upgrade, by package and versions" rpm_hist '"version":"2.0-1","previous_version":"1.0-1"'
	check "rpm -e of the package (transfiletriggerpostun)" rpm --root "$RR" --nodeps -e "$HOOKPKG"
	check "the trigger accepted the removal: check clean" rpm_in check
	check "history: the removal" rpm_hist '"name":"'"$HOOKPKG"'","previous_version":"2.0-1"'
fi

# --- install, use, purge ---
if apt-get install -y -qq "./$DEB" >"$SCRATCH/install.log" 2>&1; then
	ok "deb installs (apt-get install ./deb)"
else
	ko "deb installs: $(tail -n3 "$SCRATCH/install.log")"
	echo "$pass passed, $fail failed"
	exit 1
fi
check "installed fimguard policy check (shipped policy)" /usr/sbin/fimguard policy check
check "installed fimguard init (scratch state)" /usr/sbin/fimguard -s "$SCRATCH/state" init
out=$(/usr/sbin/fimguard -s "$SCRATCH/state" check >/dev/null 2>&1; echo $?)
case $out in 0|1) ok "installed fimguard check runs (exit $out)";; *) ko "installed check exit $out";; esac
check "installed fimguard events runs" sh -c "/usr/sbin/fimguard events --format json >/dev/null"
check "system user fimguard created" getent passwd fimguard
check "/var/lib/fimguard is 0700" sh -c "[ \"\$(stat -c %a /var/lib/fimguard)\" = 700 ]"
units=$(ls /lib/systemd/system/fimguard*.service /lib/systemd/system/fimguard*.timer \
    /usr/lib/systemd/system/fimguard*.service /usr/lib/systemd/system/fimguard*.timer 2>/dev/null)
if verify=$(systemd-analyze verify $units 2>&1) && [ -z "$verify" ]; then
	ok "systemd-analyze verify: clean"
else
	ko "systemd-analyze verify: $verify"
fi
check "man page installed" test -e /usr/share/man/man8/fimguard.8.gz

# --- the dpkg hook, from the installed package: a plain dpkg -i of a test
# package (under /opt/fimguard-test-hook-<random>/) runs approve
# --packages; the installed config (a conffile, purged below) points
# state, policy and events at the scratch directory ---
mkhookdeb() {
	local d=$SCRATCH/hookdeb-$1
	mkdir -p "$d/DEBIAN" "$d$HOOKDIR"
	printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: fimguard hook test\n' \
	    "$HOOKPKG" "$1" > "$d/DEBIAN/control"
	printf '%s\n' "$2" > "$d$HOOKDIR/tool"
	(cd "$d" && md5sum "${HOOKDIR#/}/tool" > DEBIAN/md5sums)
	dpkg-deb --root-owner-group -b "$d" "$SCRATCH/hook-$1.deb" >/dev/null
}
hookconf() {
	printf 'mode = audit\nevents = %s\nstate_dir = %s\npolicy_dir = %s\n%b' \
	    "$SCRATCH/hook/events.json" "$1" "$SCRATCH/hook/policy.d" "${2:-}" \
	    > /etc/fimguard/fimguard.conf
}
mkhookdeb 1.0 one && mkhookdeb 2.0 two
mkdir -p "$SCRATCH/hook/policy.d"
printf '[rule hooktest]\npaths = %s/\nrecursive = yes\nexclude = *.dpkg-*\n' "$HOOKDIR" \
    > "$SCRATCH/hook/policy.d/10-hook.rules"
hookconf "$SCRATCH/hook/none"
if dpkg -i "$SCRATCH/hook-1.0.deb" >"$SCRATCH/hook0.log" 2>&1 &&
    grep -q "package hook: no baseline" "$SCRATCH/hook0.log"; then
	ok "dpkg hook without a baseline: says so, dpkg succeeds"
else
	ko "dpkg hook without a baseline: $(tail -n3 "$SCRATCH/hook0.log")"
fi
dpkg --purge "$HOOKPKG" >/dev/null 2>&1
hookconf "$SCRATCH/hook/state"
check "hook test baseline (scratch state from the config)" /usr/sbin/fimguard init
check "dpkg -i with the hook" dpkg -i "$SCRATCH/hook-1.0.deb"
check "hook accepted the new package's files: check clean" /usr/sbin/fimguard check
check "dpkg -i of an upgrade with the hook" dpkg -i "$SCRATCH/hook-2.0.deb"
check "hook accepted the upgrade: check clean" /usr/sbin/fimguard check
check "history: the upgrade, by package and versions" sh -c "grep '\"name\":\"$HOOKPKG\"' '$SCRATCH/hook/state/history.jsonl' | grep '\"previous_version\":\"1.0\"' | grep -q '\"version\":\"2.0\"'"
check "dpkg --purge with the hook" dpkg --purge "$HOOKPKG"
check "hook accepted the removal: check clean" /usr/sbin/fimguard check
hookconf "$SCRATCH/hook/state" 'package_hook = no\n'
check "dpkg -i with package_hook = no" dpkg -i "$SCRATCH/hook-1.0.deb"
out=$(/usr/sbin/fimguard check >/dev/null 2>&1; echo $?)
[ "$out" = 1 ] && ok "package_hook = no: the change waits for a human" || ko "package_hook = no: check exit $out"
dpkg --purge "$HOOKPKG" >/dev/null 2>&1
dpkg --purge fimguard >/dev/null 2>&1 && ok "purge" || ko "purge"
left=$(ls -d /usr/sbin/fimguard /etc/fimguard /etc/cron.d/fimguard /etc/dpkg/dpkg.cfg.d/fimguard \
    /etc/logrotate.d/fimguard /lib/systemd/system/fimguard.service \
    /usr/lib/systemd/system/fimguard.service 2>/dev/null)
[ -z "$left" ] && ok "purge leaves no package files" || ko "left after purge: $left"
check "purge keeps the user's state" test -e "$SCRATCH/state/baseline.json"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
