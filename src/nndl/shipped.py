"""Whether a network runs the book's code as nndl ships it.

The fast engines (:mod:`nndl.engines`) compute the steps of the shipped
``network.py``, so they may stand in for it only while the code a reader of
the chapter changes is that code: the methods :data:`METHODS` and the
functions :data:`FUNCTIONS`.  A change counts wherever it is made: in a
subclass, in ``network.py`` itself (an editable install, a copied package)
or at run time (``Network.backprop = f``, ``nndl.network.sigmoid = f``).

Each piece of code is known by its fingerprint: a digest of its tokens
without comments, blank lines, spacing and docstring, so commenting or
reformatting it changes nothing and any other edit changes the fingerprint.
:data:`SHIPPED` records the fingerprints of the shipped code, and a test
(``tests/test_shipped.py``) holds them equal to :func:`current`'s, printing
the new ones when they differ: whoever changes ``network.py`` on purpose
updates them on purpose.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import io
import sys
import textwrap
import tokenize
from types import CodeType
from typing import Any

#: The book's methods of :class:`~nndl.network.Network` the fast engines stand in for.
METHODS = ("feedforward", "update_mini_batch", "backprop", "cost_derivative", "evaluate")
#: The module-level functions of :mod:`nndl.network` they stand in for.
FUNCTIONS = ("sigmoid", "sigmoid_prime")

#: The fingerprint of each as shipped (:func:`current` gives those of the code now).
SHIPPED = {
    "feedforward": "59e483ae51c27400",
    "update_mini_batch": "337f9077ed5b67d4",
    "backprop": "07a9162063b4d45b",
    "cost_derivative": "50a2931e60716b88",
    "evaluate": "fc4b0d12903a6e88",
    "sigmoid": "99546048da7b7433",
    "sigmoid_prime": "94d0216de7f7c292",
}

#: Fingerprints already taken, by the id of the code object (kept alive beside it).
_taken: dict[int, tuple[CodeType, str | None]] = {}
_LAYOUT = {tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE}
_IGNORED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}


def fingerprint(func: Any) -> str | None:
    """The digest of the code of the function ``func`` (a method's function
    or a plain one), or None when it is not Python code with a source file."""
    code = getattr(func, "__code__", None)
    if not isinstance(code, CodeType):
        return None
    taken = _taken.get(id(code))
    if taken is None or taken[0] is not code:
        taken = _taken[id(code)] = (code, _digest(func))
    return taken[1]


def _digest(func: Any) -> str | None:
    try:
        source = textwrap.dedent(inspect.getsource(func))
        tokens = list(_tokens(source))
    except (OSError, TypeError, SyntaxError, tokenize.TokenError, IndentationError):
        return None
    return hashlib.sha256("\n".join(tokens).encode()).hexdigest()[:16]


def _tokens(source: str) -> Any:
    """The tokens of ``source`` that make its meaning: no comments, blank
    lines or docstring, layout by name rather than by its whitespace."""
    doc = _docstring_span(source)
    after_doc = False
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in _IGNORED:
            continue
        if doc is not None and doc[0] <= tok.start and tok.end <= doc[1]:
            after_doc = True
            continue
        if after_doc and tok.type == tokenize.NEWLINE:  # the docstring's own line end
            after_doc = False
            continue
        after_doc = False
        yield tokenize.tok_name[tok.type] if tok.type in _LAYOUT else tok.string


def _docstring_span(source: str) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Where the docstring of the function ``source`` defines lies, if it has one."""
    tree = ast.parse(source)
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.body:
        return None
    first = node.body[0]
    if not (isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str)):
        return None
    return (first.lineno, first.col_offset), (first.end_lineno or first.lineno, first.end_col_offset or 0)


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
