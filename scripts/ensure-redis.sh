#!/usr/bin/env bash
# Installs redis-server from Debian's packages when it is not on PATH.
# Tests and the demo start their own redis-server processes; this only
# provides the binary, and stops the system service the package may start.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server (Debian package)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  # The package starts a system instance on 6379; nothing here uses it.
  $SUDO service redis-server stop >/dev/null 2>&1 || true
fi
redis-server --version
