#!/usr/bin/env bash
# Install the Debian packages some tests use when they are missing: Chromium for the browser
# tests (no browser download by Playwright: the tests drive /usr/bin/chromium), age, whose
# age-keygen writes the identity files publishers really have, and Java with Maven for the
# OpenID Connect provider the console's tests sign in with (scripts/oidc-provider.sh, which
# this script runs once to fetch it). Not fatal: a test without its tool says so (skipped,
# or falls back to writing the tool's format itself).
set -euo pipefail
declare -A wanted=([/usr/bin/chromium]=chromium [/usr/bin/age-keygen]=age
                   [/usr/bin/java]=default-jre-headless [/usr/bin/mvn]=maven)
missing=()
for path in "${!wanted[@]}"; do
  [ -x "$path" ] || missing+=("${wanted[$path]}")
done
prefetch() {
  if command -v java >/dev/null && command -v mvn >/dev/null; then
    "$(dirname "$0")/oidc-provider.sh" >/dev/null || echo "warning: the OpenID provider could not be fetched; the console's sign-in tests say so" >&2
  fi
}
if [ ${#missing[@]} -eq 0 ]; then prefetch; exit 0; fi
echo "installing Debian's ${missing[*]} for the tests"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
  || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }; then
  [ -x /usr/bin/chromium ] && /usr/bin/chromium --version
  true
else
  echo "warning: could not install ${missing[*]}; the tests that use them say so" >&2
fi
prefetch
