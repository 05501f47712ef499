#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser tests (tests/browser/).
# Idempotent; never downloads Playwright's own browser builds. Prints one line.
set -uo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present) at /usr/bin/chromium"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  rm -f "$log"
  echo "chromium: could not install Debian's chromium package (run as root with apt access)" >&2
  exit 1
fi
rm -f "$log"
echo "chromium: installed $(/usr/bin/chromium --version 2>/dev/null) at /usr/bin/chromium"
