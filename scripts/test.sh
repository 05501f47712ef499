#!/usr/bin/env bash
# The test suite: lint, layering contracts, then pytest (unit, NLU data, integration with the
# real stack, conversation tests). Exits non-zero on any failure; pytest's "no tests" (5) too.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

# The browser tests drive Debian's Chromium; install it when missing (never a download of
# Playwright's own browsers).
bash scripts/ensure-chromium.sh || exit 1
echo "== ruff"
$BIN/ruff check bot actions channels tests bench || exit 1
echo "== import contracts"
$BIN/lint-imports --no-cache || exit 1
echo "== pytest"
$BIN/python -m pytest -p no:cacheprovider -rfEs "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here." >&2
fi
exit "$status"
