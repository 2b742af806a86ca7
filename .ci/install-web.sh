#!/usr/bin/env bash
# Installs what the databay-web tests use when it is missing: Debian's chromium and
# chromium-driver (the browser test, driven by selenium from PyPI) and prometheus (its
# promtool checks /metrics). Nothing is started here.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-web.sh: ${missing[*]} missing and apt-get is not available;" \
         "install chromium, chromedriver and promtool by other means" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # the prometheus package may start a system service: the tests do not use it
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl stop prometheus || true
  fi
fi
chromium --version 2>/dev/null | head -n 1
chromedriver --version | head -n 1
promtool --version 2>&1 | head -n 1
