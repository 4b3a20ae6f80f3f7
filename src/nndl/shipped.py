"""Whether a network runs the book's code as nndl ships it.

The fast engines (:mod:`nndl.engines`) compute the steps of the shipped
``network.py``, so they may stand in for it only while the code a reader of
the chapter changes is that code: the methods :data:`METHODS` and the
functions :data:`FUNCTIONS`.  A change counts wherever it is made: in a
subclass, in ``network.py`` itself (an editable install, a copied package)
or at run time (``Network.backprop = f``, ``nndl.network.sigmoid = f``).

Each piece of code is known by its fingerprint: a digest of its syntax tree
without its docstring, which holds no comments, blank lines or spacing, so
commenting or reformatting it changes nothing and any other edit changes the
fingerprint.
:data:`SHIPPED` records the fingerprints of the shipped code, and a test
(``tests/test_shipped.py``) holds them equal to :func:`current`'s, printing
the new ones when they differ: whoever changes ``network.py`` on purpose
updates them on purpose.
"""

from __future__ import annotations

import ast
import hashlib
import linecache
import sys
from types import CodeType
from typing import Any

#: The book's methods of :class:`~nndl.network.Network` the fast engines stand in for.
METHODS = ("feedforward", "update_mini_batch", "backprop", "cost_derivative", "evaluate")
#: The module-level functions of :mod:`nndl.network` they stand in for.
FUNCTIONS = ("sigmoid", "sigmoid_prime")

#: The fingerprint of each as shipped (:func:`current` gives those of the code now).
SHIPPED = {
    "feedforward": "8531432e531db0f9",
    "update_mini_batch": "a9ca3b472d0ed990",
    "backprop": "010ef050aeaaafdf",
    "cost_derivative": "6b4f0c420ea25935",
    "evaluate": "3206e031c982790f",
    "sigmoid": "338abf44a2f1d0e6",
    "sigmoid_prime": "8d32afebf69a06e8",
}

#: Fingerprints already taken, by the id of the code object (kept alive beside it).
_taken: dict[int, tuple[CodeType, str | None]] = {}
#: Each source file's functions by the line of their ``def``, for the text it was parsed from.
_parsed: dict[str, tuple[list[str], dict[int, ast.AST]]] = {}


def fingerprint(func: Any) -> str | None:
    """The digest of the code of the function ``func`` (a method's function
    or a plain one), or None when it is not Python code with a source file."""
    code = getattr(func, "__code__", None)
    if not isinstance(code, CodeType):
        return None
    taken = _taken.get(id(code))
    if taken is None or taken[0] is not code:
        node = _definitions(code.co_filename).get(code.co_firstlineno)
        taken = _taken[id(code)] = (code, None if node is None else _digest(node))
    return taken[1]


def _definitions(filename: str) -> dict[int, ast.AST]:
    """The functions defined in the file (at its top level and in its
    classes), by the line their code starts on."""
    lines = linecache.getlines(filename)
    known = _parsed.get(filename)
    if known is None or known[0] is not lines:
        try:
            tree = ast.parse("".join(lines))
        except (SyntaxError, ValueError):
            tree = ast.Module(body=[], type_ignores=[])
        known = _parsed[filename] = (lines, {(n.decorator_list or [n])[0].lineno: n for n in _functions(tree.body)})
    return known[1]


def _functions(body: list[ast.stmt]) -> Any:
    """The functions defined in ``body`` and in its classes (not those inside functions)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node.body)


def _digest(node: ast.AST) -> str:
    """A digest of the function ``node`` without its docstring: the syntax
    tree holds no comments, spacing or line breaks."""
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0].value, "value", None), str):
        body = body[1:]
    fields = [f"{k}={_canonical(v)}" for k, v in ast.iter_fields(node) if k != "body" and v is not None and v != []]
    text = f"{type(node).__name__}({','.join(fields)},body={_canonical(body)})"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(node: Any) -> str:
    """The tree as text, the same on every Python that nndl supports: each
    node's fields in order, leaving out those that are empty (newer Pythons
    add fields such as ``type_params``, empty in code that does not use
    them)."""
    if isinstance(node, list):
        return "[" + ",".join([_canonical(n) for n in node]) + "]"
    if not isinstance(node, ast.AST):
        return repr(node)
    fields = [f"{k}={_canonical(v)}" for k, v in ast.iter_fields(node) if v is not None and v != []]
    return f"{type(node).__name__}({','.join(fields)})"


def changes(net: Any) -> tuple[str, ...]:
    """The names, among :data:`METHODS` and :data:`FUNCTIONS`, of the code
    ``net`` runs that is not the shipped code (empty when all of it is)."""
    network = sys.modules[__package__ + ".network"]
    home = vars(network)
    found = [name for name in METHODS if not _shipped(name, getattr(net, name, None), home)]
    return tuple(found + [name for name in FUNCTIONS if not _shipped(name, home.get(name), home)])


def _shipped(name: str, obj: Any, home: dict) -> bool:
    func = getattr(obj, "__func__", obj)  # a bound method's function
    # written in network.py, so that the names it calls are network.py's too
    return getattr(func, "__globals__", None) is home and fingerprint(func) == SHIPPED[name]


def current() -> dict[str, str | None]:
    """The fingerprints of the code in :mod:`nndl.network` now."""
    network = sys.modules[__package__ + ".network"]  # loaded with the package
    return {name: fingerprint(getattr(network.Network, name)) for name in METHODS} | {
        name: fingerprint(getattr(network, name)) for name in FUNCTIONS
    }


__all__ = ["FUNCTIONS", "METHODS", "SHIPPED", "changes", "current", "fingerprint"]
