#!/usr/bin/env bash
# Installs Debian's rabbitmq-server (and the Erlang runtime it pulls in) when it is not
# installed. The databay-celery RabbitMQ test starts its own broker on a free port, with
# its own node name, data directory and Erlang cookie; no service is left running here.
set -euo pipefail
PATH="$PATH:/usr/sbin:/usr/lib/rabbitmq/bin"
if command -v rabbitmq-server >/dev/null 2>&1; then
  dpkg-query -W -f='rabbitmq-server ${Version}\n' rabbitmq-server 2>/dev/null || true
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-rabbitmq.sh: rabbitmq-server is missing and apt-get is not available;" \
       "install RabbitMQ (rabbitmq-server) by other means" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
# the package may start a system service (and an epmd) the tests do not use: stop them
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet rabbitmq-server 2>/dev/null; then
  $SUDO systemctl stop rabbitmq-server || true
  if systemctl is-active --quiet epmd.socket 2>/dev/null; then
    $SUDO systemctl stop epmd.socket epmd.service || true
  fi
elif command -v service >/dev/null 2>&1 && service rabbitmq-server status >/dev/null 2>&1; then
  $SUDO service rabbitmq-server stop || true  # SysV init (containers whose policy allows it)
fi
dpkg-query -W -f='rabbitmq-server ${Version}\n' rabbitmq-server
