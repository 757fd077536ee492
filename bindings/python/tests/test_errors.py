"""Every error kind of the core raises its exception class, and the classes
say what the core says about their kind (no redis needed)."""

import ast
import pathlib

import redlead
from redlead import _redlead

# The core's kinds (by their Rust names) and the class each raises. A kind
# added to the core must be added here, with the class it gets in errors.rs.
CLASS_OF_KIND = {
    "InvalidArgument": redlead.InvalidArgument,
    "NotAcquired": redlead.NotAcquired,
    "Lost": redlead.LockLost,
    "Connection": redlead.ConnectionError,
    "Timeout": redlead.RedleadError,
    "Closed": redlead.Closed,
    "WrongThread": redlead.RedleadError,
    "Forked": redlead.RedleadError,
    "Internal": redlead.RedleadError,
}


def test_every_core_error_kind_raises_its_class_with_the_cores_description():
    rows = _redlead._errors_of_every_kind()
    assert [kind for kind, _, _ in rows] == list(CLASS_OF_KIND)
    for kind, description, exc in rows:
        assert type(exc) is CLASS_OF_KIND[kind], kind
        assert isinstance(exc, redlead.RedleadError)
        assert str(exc).startswith(description + ": "), (kind, str(exc))
        assert exc.outcomes == []
    assert isinstance(rows[0][2], ValueError)
    assert isinstance(rows[3][2], ConnectionError)


def test_exception_docstrings_are_the_stubs_docstrings():
    stub = pathlib.Path(_redlead.__file__).with_name("_redlead.pyi")
    if not stub.exists():
        stub = pathlib.Path(redlead.__file__).with_name("_redlead.pyi")
    tree = ast.parse(stub.read_text())
    documented = {
        node.name: ast.get_docstring(node)
        for node in tree.body
        if isinstance(node, ast.ClassDef) and issubclass(getattr(redlead, node.name, object), BaseException)
    }
    assert set(documented) == {c.__name__ for c in CLASS_OF_KIND.values()}
    for name, doc in documented.items():
        assert getattr(redlead, name).__doc__ == doc, name
