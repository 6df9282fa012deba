#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests when it is missing (no browser download
# by Playwright: the tests drive /usr/bin/chromium).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "installing Debian's chromium for the browser tests"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get install -y --no-install-recommends chromium >/dev/null \
  || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends chromium >/dev/null; }; then
  /usr/bin/chromium --version
else
  # Not fatal here: the browser test then reports itself skipped with this reason.
  echo "warning: could not install chromium; the browser test will be skipped" >&2
fi
