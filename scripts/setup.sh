#!/usr/bin/env bash
# Creates .venv with Python 3.10 and installs the pinned dependencies (requirements.lock)
# plus this project in editable mode. Idempotent: a stamp keyed on the dependency files
# makes a second run a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
KEY=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
STAMP="$VENV/.installed-$KEY"

if [ -f "$STAMP" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  exit 0
fi

is_py310() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

find_python() {
  local candidate
  if [ -n "${TIEPDAN_PYTHON:-}" ] && is_py310 "$TIEPDAN_PYTHON"; then echo "$TIEPDAN_PYTHON"; return; fi
  # On PATH (a pyenv shim answers here too, but only works when 3.10 is the active version).
  candidate=$(command -v python3.10 || true)
  if is_py310 "$candidate"; then echo "$candidate"; return; fi
  if command -v pyenv >/dev/null 2>&1; then
    for version in ${PYENV_VERSION:-} $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -V -r); do
      candidate=$(PYENV_VERSION="$version" pyenv which python3.10 2>/dev/null || true)
      if is_py310 "$candidate"; then echo "$candidate"; return; fi
    done
  fi
  for candidate in /usr/bin/python3.10 /usr/local/bin/python3.10; do
    if is_py310 "$candidate"; then echo "$candidate"; return; fi
  done
}

if [ -x "$VENV/bin/python" ] && ! is_py310 "$VENV/bin/python"; then
  echo "setup: $VENV uses another Python than 3.10; recreating it." >&2
  rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
  PYTHON=$(find_python)
  if [ -z "$PYTHON" ]; then
    echo "setup: Python 3.10 is required (Rasa 3.6 supports 3.8-3.10) and none was found: install it with 'pyenv install 3.10' or 'apt-get install python3.10 python3.10-venv', then run make again." >&2
    exit 1
  fi
  echo "setup: creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi

# pip quietly, without the machine's notes about local package mirrors it skips.
pip_install() {
  local status
  set +e
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory"
  status=${PIPESTATUS[0]}
  set -e
  return "$status"
}

echo "setup: installing pinned dependencies (requirements.lock); the first time takes several minutes"
start=$(date +%s)
pip_install --upgrade "pip<25" wheel
# One resolve, everything pinned: installing a package on its own later would silently
# upgrade SQLAlchemy and aiohttp past what Rasa 3.6 supports.
pip_install -r requirements.lock
pip_install --no-deps --no-build-isolation -e .
"$VENV/bin/python" -m pip check
rm -f "$VENV"/.installed-*
touch "$STAMP"
echo "setup: done in $(( $(date +%s) - start )) s"
