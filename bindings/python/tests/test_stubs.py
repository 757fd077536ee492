"""The .pyi stubs match the native module (mypy.stubtest) and the package
type-checks against them (mypy --strict)."""

import os
import pathlib
import subprocess
import sys

import pytest

mypy = pytest.importorskip("mypy", reason="mypy not installed (tests/run.sh installs it)")

import redlead  # noqa: E402

PKG = pathlib.Path(redlead.__file__).parent


def run(*args):
    # Run from a directory without a redlead/ folder so the installed package is checked.
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.abspath(os.sep)), timeout=180)


def test_stubs_match_the_native_module():
    r = run("mypy.stubtest", "redlead._redlead")
    assert r.returncode == 0, r.stdout + r.stderr


def test_package_type_checks_strictly():
    r = run("mypy", "--strict", "--no-incremental", "-p", "redlead")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (PKG / "py.typed").exists()


def test_revoke_reason_stub_docstring_is_the_runtimes():
    import ast

    tree = ast.parse((PKG / "_redlead.pyi").read_text())
    stub = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "RevokeReason")
    assert ast.get_docstring(stub) == redlead.RevokeReason.__doc__
