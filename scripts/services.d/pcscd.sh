# pcscd with the vsmartcard-vpcd virtual reader, for the card interop tests (sourced by
# scripts/services). There is no systemd: pcscd is started by hand in the foreground, in the
# background of this shell, so we own its process id and stop exactly what we started.
#
# vpcd comes from Debian's /etc/reader.conf.d/vpcd: "Virtual PCD 00 00" waits for a card on
# TCP port 35963 and "Virtual PCD 00 01" on 35964. vpcd binds those ports on ALL interfaces:
# its server mode binds INADDR_ANY and reader.conf cannot change that. (A host name in
# DEVICENAME switches vpcd to a reverse mode where it connects out to a listening card, but
# Debian 12's vpcd then aborts pcscd whenever a slot has no card listening.) On a machine
# reachable from a network, firewall the two ports: see "Virtual card and PC/SC" in README.md.
#
# Only one pcscd may run on a machine. When one is already running (a developer's own), it is
# used as it is and left running; pcscd_stop stops only a pcscd that pcscd_start started.
# Exports OPENJPKI_PCSC_READY=1 once pcscd answers; the tests marked `pcsc` skip without it
# unless they find pcscd running themselves.

_pcscd_pid=""
_pcscd_log=""
_pcscd_py="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python"

_pcscd_running() {
  # pcscd answers on its socket: a client can list readers (the vpcd readers exist from start).
  [ -S /run/pcscd/pcscd.comm ] || return 1
  "$_pcscd_py" - <<'EOF' >/dev/null 2>&1
import sys
from smartcard.System import readers
sys.exit(0 if any("Virtual PCD" in str(r) for r in readers()) else 1)
EOF
}

pcscd_start() {
  local i
  if ! command -v pcscd >/dev/null 2>&1 && [ ! -x /usr/sbin/pcscd ]; then
    echo "pcscd: not installed (apt-get install pcscd vsmartcard-vpcd)" >&2
    return 1
  fi
  if [ ! -e /usr/lib/pcsc/drivers/serial/libifdvpcd.so ]; then
    echo "pcscd: the vpcd reader driver is missing (apt-get install vsmartcard-vpcd)" >&2
    return 1
  fi
  if _pcscd_running; then
    echo "pcscd: already running; using it as it is"
    export OPENJPKI_PCSC_READY=1
    return 0
  fi
  mkdir -p /run/pcscd
  _pcscd_log=$(mktemp /tmp/openjpki-pcscd.XXXXXX.log) || return 1
  /usr/sbin/pcscd --foreground --info >"$_pcscd_log" 2>&1 &
  _pcscd_pid=$!
  for i in $(seq 1 100); do
    if _pcscd_running; then
      export OPENJPKI_PCSC_READY=1
      echo "pcscd: started (pid $_pcscd_pid, vpcd readers on ports 35963/35964, log $_pcscd_log)"
      return 0
    fi
    if ! kill -0 "$_pcscd_pid" 2>/dev/null; then
      echo "pcscd: exited at start; see $_pcscd_log" >&2
      _pcscd_pid=""
      return 1
    fi
    sleep 0.1
  done
  echo "pcscd: did not answer within 10 s (another pcscd not answering?); see $_pcscd_log" >&2
  pcscd_stop
  return 1
}

pcscd_stop() {
  local i
  if [ -n "$_pcscd_pid" ]; then
    kill -TERM "$_pcscd_pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      kill -0 "$_pcscd_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$_pcscd_pid" 2>/dev/null || true
    wait "$_pcscd_pid" 2>/dev/null || true
    [ -n "$_pcscd_log" ] && rm -f "$_pcscd_log"
  fi
  _pcscd_pid=""
  _pcscd_log=""
  unset OPENJPKI_PCSC_READY
}
