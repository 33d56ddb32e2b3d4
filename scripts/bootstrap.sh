#!/usr/bin/env bash
# Build .venv from Python 3.10 (Rasa 3.6 supports 3.8-3.10 only) and install the project.
# Re-installs only when pyproject.toml changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"

is_python310() {
  [ -x "$1" ] && "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null
}

find_python310() {
  local candidates=()
  [ -n "${PYTHON310:-}" ] && candidates+=("$PYTHON310")
  command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
  local pyenv_root
  pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  for found in "$pyenv_root"/versions/3.10.*/bin/python /usr/local/bin/python3.10 /usr/bin/python3.10; do
    candidates+=("$found")
  done
  for candidate in "${candidates[@]}"; do
    if is_python310 "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

if [ -f "$STAMP" ] && is_python310 "$VENV/bin/python"; then
  exit 0
fi

if ! is_python310 "$VENV/bin/python"; then
  if ! PYTHON=$(find_python310); then
    echo "error: Python 3.10 not found. Rasa 3.6 runs on Python 3.8-3.10 only." >&2
    echo "Install it (e.g. 'pyenv install 3.10.13') or set PYTHON310=/path/to/python3.10." >&2
    exit 1
  fi
  echo "==> creating $VENV with $PYTHON"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi

echo "==> installing the project and its pinned dependencies into $VENV (first time: ~2 min)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip<24.1" wheel
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
rm -f "$VENV"/.installed-*
touch "$STAMP"
