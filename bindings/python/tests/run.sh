#!/usr/bin/env bash
# Builds the wheel that would go to an index (build-wheel.sh: abi3,
# manylinux_2_28), installs it and runs the tests against real redis-server
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

"$py" -m pip install --quiet --disable-pip-version-check pytest mypy

# The release wheel, built into the workspace target dir (shared with cargo),
# is what is tested: the same file an index would get.
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
wheel="$(PYTHON="$py" bash "$here/build-wheel.sh" "$wheels")"
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

cd "$here"
"$py" -m pytest -q -p no:cacheprovider tests "$@"
