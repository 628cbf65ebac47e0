#!/usr/bin/env bash
# Makes sure the Debian packages the event tests run against are installed,
# and prints what the caller needs from them.
#
#   operator/hack/rabbitmq.sh server   prints the directory holding
#                                      rabbitmq-server and rabbitmqctl
#   operator/hack/rabbitmq.sh oslo     prints a python3 that imports
#                                      oslo_messaging (Debian's, the real
#                                      notifier OpenStack services use)
#
# A fresh machine (CI) has neither, so the first caller installs them with
# apt-get (as root, else with sudo -n); concurrent test binaries wait for it
# on a lock instead of running apt-get twice. The package's own broker
# service is kept from starting: the tests start brokers of their own, as
# the current user, on free ports.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

what=${1:-}
case "$what" in
  server) pkgs=(rabbitmq-server) ;;
  oslo)   pkgs=(python3-oslo.messaging) ;;
  *) echo "usage: $0 server|oslo" >&2; exit 2 ;;
esac

# The server's own scripts; /usr/sbin/rabbitmqctl is Debian's wrapper that
# switches to the rabbitmq user and its HOME, which a test broker must not.
sbin=/usr/lib/rabbitmq/bin
# Debian's python3, not whatever python3 comes first on PATH (pyenv, venvs):
# apt installs oslo.messaging for this one.
python=/usr/bin/python3

have() {
  case "$what" in
    server) [ -x "$sbin/rabbitmq-server" ] && [ -x "$sbin/rabbitmqctl" ] ;;
    oslo)   [ -x "$python" ] && "$python" -c 'import oslo_messaging' 2>/dev/null ;;
  esac
}
show() {
  case "$what" in
    server) echo "$sbin" ;;
    oslo)   echo "$python" ;;
  esac
}

if have; then show; exit 0; fi

mkdir -p "$cache/rabbitmq"
lock "$cache/rabbitmq/.apt-lock" rabbitmq
if have; then show; exit 0; fi

if ! command -v apt-get >/dev/null; then
  echo "rabbitmq: ${pkgs[*]} is missing and this machine has no apt-get; install it by hand" >&2
  exit 1
fi
as_root=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "rabbitmq: ${pkgs[*]} is missing; install it as root: apt-get install ${pkgs[*]}" >&2
    exit 1
  fi
fi

# policy-rc.d answering 101 is Debian's way to say "do not start services"
# during an install; one that is already there is left alone.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  "${as_root[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy"
  trap '"${as_root[@]}" rm -f "$policy"' EXIT
fi

start=$SECONDS
log="$cache/rabbitmq/apt-$what.log"
echo "rabbitmq: installing ${pkgs[*]} with apt-get (first time only; log in $log)..." >&2
export DEBIAN_FRONTEND=noninteractive
install() { "${as_root[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}"; }
# A fresh machine may have no package lists yet, or stale ones.
if ! install >"$log" 2>&1 && ! { "${as_root[@]}" apt-get update -q && install; } >>"$log" 2>&1; then
  echo "rabbitmq: apt-get failed; the end of $log:" >&2
  tail -20 "$log" >&2
  exit 1
fi
if [ "$what" = server ] && command -v systemctl >/dev/null && systemctl is-active -q rabbitmq-server 2>/dev/null; then
  # A systemd machine starts units despite policy-rc.d in some setups; the
  # system broker would hold 5672 and the Erlang port mapper for nothing.
  "${as_root[@]}" systemctl disable --now rabbitmq-server >&2 || true
fi
echo "rabbitmq: installed in $((SECONDS - start))s" >&2
have || { echo "rabbitmq: ${pkgs[*]} installed, but $(show) is not usable" >&2; exit 1; }
show
