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

# Under the unit's own sandbox (CapabilityBoundingSet=, UMask=, ...): the
# capability drop, and an alerter with a webhook sink and a systemd
# credential. Nothing listens on port 9: the alert must stay spooled.
mkdir -p "$ROOT/etc/systemd/system/fimguard.service.d"
printf 'secret-token\n' > "$ROOT/etc/fimguard/hook.token"
chmod 600 "$ROOT/etc/fimguard/hook.token"
printf '[Service]\nLoadCredential=hook-token:/etc/fimguard/hook.token\n' \
    > "$ROOT/etc/systemd/system/fimguard.service.d/cred.conf"
printf '[webhook]\nurl = https://127.0.0.1:9/hook\ntoken_credential = hook-token\n' \
    >> "$ROOT/etc/fimguard/fimguard.conf"
$E systemctl daemon-reload
$E systemctl start fimguard && ok "starts with an alert sink and a credential" ||
	ko "starts with an alert sink and a credential"
sleep 2
MAIN=$($E systemctl show fimguard -p MainPID --value)
st() { $E grep "^$2:" "/proc/$1/status" | awk '{print $2}'; }
[ "$(st "$MAIN" CapBnd)" = 0000000000000000 ] && [ "$(st "$MAIN" NoNewPrivs)" = 1 ] &&
    [ "$(st "$MAIN" Seccomp)" = 2 ] && [ "$(st "$MAIN" Uid)" = 0 ] &&
	ok "monitor: bounding set empty, no_new_privs, seccomp" || ko "monitor privileges"
case "$(st "$MAIN" CapEff)" in
0000000000080004|000000008008001f) ok "monitor: only the capabilities it needs" ;;
*) ko "monitor CapEff $(st "$MAIN" CapEff)" ;;
esac
AL=$($E pgrep -P "$MAIN" | head -n1)
FU=$($E id -u fimguard)
[ -n "$AL" ] && [ "$(st "$AL" Uid)" = "$FU" ] && [ "$(st "$AL" CapEff)" = 0000000000000000 ] &&
    [ "$(st "$AL" CapPrm)" = 0000000000000000 ] && [ "$(st "$AL" CapBnd)" = 0000000000000000 ] &&
    [ "$(st "$AL" Seccomp)" = 2 ] &&
	ok "alerter: user fimguard, no capabilities, seccomp" || ko "alerter privileges"
$E sh -c 'echo "# fimguard alert test" >> /etc/login.defs'
sleep 3
[ -n "$($E find /var/lib/fimguard/spool -maxdepth 1 -name '*-webhook.json')" ] &&
	ok "an alert waits in the spool while the sink is down" || ko "spool"
! $E grep -rqs secret-token /var/log/fimguard /var/lib/fimguard/spool "/proc/$MAIN/environ" "/proc/$MAIN/cmdline" &&
	ok "the credential appears in no log, spool entry or environment" || ko "credential leaked"
$E systemctl stop fimguard
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
