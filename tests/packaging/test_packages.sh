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
cleanup() {
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
dpkg --purge fimguard >/dev/null 2>&1 && ok "purge" || ko "purge"
left=$(ls -d /usr/sbin/fimguard /etc/fimguard /etc/cron.d/fimguard \
    /etc/logrotate.d/fimguard /lib/systemd/system/fimguard.service \
    /usr/lib/systemd/system/fimguard.service 2>/dev/null)
[ -z "$left" ] && ok "purge leaves no package files" || ko "left after purge: $left"
check "purge keeps the user's state" test -e "$SCRATCH/state/baseline.json"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
