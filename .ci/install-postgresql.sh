#!/usr/bin/env bash
# Installs Debian's postgresql when initdb/pg_ctl are missing (the databay-sql tests start
# their own server with initdb + pg_ctl in a temporary folder; no service is used, and
# as root the tests run it as the unprivileged 'postgres' user the package creates).
set -euo pipefail
found=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
if command -v initdb >/dev/null 2>&1 || [ -n "$found" ]; then
  "${found:-$(command -v initdb)}" --version
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-postgresql.sh: PostgreSQL is missing and apt-get is not available;" \
       "install PostgreSQL (initdb and pg_ctl) by other means" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# the package may start a cluster as a system service: the tests do not use it
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet postgresql 2>/dev/null; then
  $SUDO systemctl stop postgresql || true
elif command -v pg_ctlcluster >/dev/null 2>&1; then
  for cluster in $(pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}'); do
    $SUDO pg_ctlcluster "${cluster%/*}" "${cluster#*/}" stop 2>/dev/null || true
  done
fi
ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1 | xargs -I{} {} --version
