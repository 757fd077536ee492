#!/usr/bin/env bash
# Builds the package from source and runs its tests against real redis-server
# nodes (started by tests/conftest.py on free loopback ports).
#
#   bash bindings/python/tests/run.sh          # from anywhere
#   REDLEAD_PY_NO_VENV=1 ...                   # install into the current python
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if [[ -n "${REDLEAD_PY_NO_VENV:-}" ]]; then
    py="$(command -v python3 || command -v python)"
else
    if [[ ! -x "$here/.venv/bin/python" ]]; then
        python3 -m venv "$here/.venv"
    fi
    py="$here/.venv/bin/python"
fi

"$py" -m pip install --quiet --disable-pip-version-check "maturin>=1.5,<2" pytest mypy

# Release build into the workspace target dir (shared with cargo), then install
# the wheel: this is what `pip install ./bindings/python` does, minus the
# isolated build environment.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
"$py" -m maturin build --release --quiet --manifest-path "$here/Cargo.toml" --out "$wheels" \
    --interpreter "$py"
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/*.whl

cd "$here"
"$py" -m pytest -q -p no:cacheprovider tests "$@"
