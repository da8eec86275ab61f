#!/usr/bin/env bash
# The packaged units under a real systemd (make test-systemd; not in CI: it
# downloads a Debian 12 base system): debootstrap into a scratch root,
# install the .deb there, boot it with systemd-nspawn, and check that
# fimguard.service starts as Type=notify with every hardening directive of
# the unit, reports a write, survives its watchdog, reloads, stops cleanly,
# and that fimguard-check.service treats "changes found" as success.
# Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
DEB=$(ls build/deb/fimguard_*_*.deb | head -n1)
ROOT=$(mktemp -d /tmp/fimguard-nspawn.XXXXXX)
pass=0 fail=0
ok() { echo "ok   - $1"; pass=$((pass + 1)); }
ko() { echo "FAIL - $1"; fail=$((fail + 1)); }
NSPID=
cleanup() {
	[ -n "$NSPID" ] && kill -KILL "$NSPID" 2>/dev/null
	sleep 1
	rm -rf "$ROOT"
}
trap cleanup EXIT

debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps \
    bookworm "$ROOT" http://deb.debian.org/debian >/dev/null 2>&1 ||
	{ ko "debootstrap"; echo "$pass passed, $fail failed"; exit 1; }
cp "$DEB" "$ROOT/root/"
chroot "$ROOT" apt-get install -y -qq "/root/$(basename "$DEB")" >/dev/null 2>&1 &&
	ok "deb installs in the container" || ko "deb installs in the container"
# fanotify needs CAP_SYS_ADMIN and nspawn's default seccomp list lacks it.
timeout -s KILL 300 systemd-nspawn -q --register=no --keep-unit \
    --capability=all --system-call-filter="fanotify_init fanotify_mark" \
    -D "$ROOT" -b >/dev/null 2>&1 &
NSPID=$!
sleep 15
C=$(pgrep -P "$(pgrep -P "$NSPID" | head -n1)" | head -n1)
E="timeout 60 nsenter -t $C -a"
[ "$($E systemctl is-system-running 2>/dev/null)" != "offline" ] && ok "container booted" || ko "container booted"
$E systemctl start fimguard && ok "fimguard.service starts (Type=notify)" || ko "fimguard.service starts"
$E sh -c 'echo "# fimguard test" >> /etc/login.defs'
sleep 2
$E grep -q '"action":"modified"' /var/log/fimguard/events.json && ok "a write is reported" || ko "a write is reported"
sleep 18
[ "$($E systemctl show fimguard -p NRestarts --value)" = 0 ] && [ "$($E systemctl is-active fimguard)" = active ] &&
	ok "alive past WatchdogSec, no restart" || ko "watchdog"
$E systemctl reload fimguard && sleep 2 && $E fimguard status | grep -q "reloads *1" &&
	ok "systemctl reload (SIGHUP)" || ko "systemctl reload"
$E systemctl start fimguard-check.service
[ "$($E systemctl show fimguard-check -p Result --value)" = success ] &&
	ok "fimguard-check.service: changes found is success" || ko "fimguard-check.service"
$E systemctl stop fimguard
[ "$($E systemctl show fimguard -p Result --value)" = success ] && ok "clean stop" || ko "clean stop"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
