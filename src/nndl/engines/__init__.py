"""Engines: the ways a :class:`~nndl.network.Network` can run its SGD steps.

Every engine computes the same step as the readable reference,
:meth:`Network.update_mini_batch <nndl.network.Network.update_mini_batch>`
(:meth:`~nndl.network.Network.backprop`, then ``w -> w - eta nabla_w``), on
the same mini-batches in the same order; they differ only in how the
arithmetic is arranged, so their results agree to floating-point rounding
(the tests check each against the reference).  Each is a module here with
one class behind one small interface (:class:`~nndl.engines.base.Engine`).

``reference``
    No engine: the network's own ``update_mini_batch`` per mini-batch, the
    code to read and change.
``numpy`` (:mod:`nndl.engines.numpy`)
    The same mathematics in the row convention with reused buffers.  Any
    layer sizes, any inputs.
``numba`` (:mod:`nndl.engines.numba`)
    A compiled loop over mini-batches touching only the nonzero pixels, for
    the chapter's shape: one hidden layer, ``uint8`` images.
``torch`` (:mod:`nndl.engines.torch`)
    PyTorch on ``device`` ``"cpu"`` or ``"cuda"``.  Needs the ``torch`` extra.
``pytensor`` (:mod:`nndl.engines.pytensor`)
    The step compiled by PyTensor from the notes' symbolic cost.  Needs the
    ``pytensor`` extra.
``auto``
    The reference if the book's code is not the shipped code (changed in a
    subclass, in ``network.py`` or at run time; :mod:`nndl.shipped`), saying
    so once; else ``torch`` on a GPU,
    ``numba`` when it applies and the mini-batches are not large (see
    :func:`prefers_numba`), else ``numpy``.  Numba comes with nndl; where it
    cannot be installed (a Python too new for it), or the compiled engine
    cannot be built with the Numba installed, ``auto`` says so once, on
    stderr, and trains on ``numpy``.

To add an engine: a module here with a class that has ``train_batches``, its
name in :data:`nndl.config.ENGINES`, and a line in ``_make``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import shipped
from ..config import DEVICES, ENGINES, check_engine
from ..errors import ConfigError, require
from ..inputs import book_pairs
from .base import Engine, check_overflow, input_scale

#: ``auto`` uses the compiled per-example kernel while mini-batch size x
#: hidden units is at most this; beyond it the matrix products of whole
#: mini-batches run closer to the machine's peak (see benchmarks/README.md).
NUMBA_MAX_WORK = 200_000

#: Each network's engines, kept with the engines (not on the network), so
#: buffers and compiled code survive from one call to the next and a copy
#: of a network starts clean.
_ENGINES: weakref.WeakKeyDictionary[Any, dict[str, Engine]] = weakref.WeakKeyDictionary()


def check(engine: str, device: str) -> None:
    """Raise a one-line :class:`NNDLError` if ``engine`` on ``device`` can't run here."""
    check_engine(engine, device)
    if engine == "numba":
        require("numba", "engine 'numba'", "fast")
    if engine == "pytensor":
        require("pytensor", "the PyTensor engine", "pytensor")
    if engine == "torch" or device == "cuda":
        from .torch import check_device

        check_device(device)


def select(net: Any, inputs: np.ndarray, mini_batch_size: int) -> Engine | None:
    """The engine object that runs ``net``'s mini-batches, or None for the
    reference code (the network's own ``update_mini_batch``)."""
    name = getattr(net, "engine", "auto")
    device = getattr(net, "device", "cpu")
    if name == "reference":
        return None
    note = changed_code(net)
    if note is not None:
        _say_once(note)
        if name == "auto":
            return None
    if name == "auto":
        if device == "cuda":
            name = "torch"
        elif prefers_numba(net.sizes, mini_batch_size) and len(net.sizes) == 3 and inputs.dtype == np.uint8:
            name = "numba" if _compiled_here(net.dtype) else "numpy"
        else:
            name = "numpy"
    elif name == "numba" and not _numba_applies(net, inputs):
        raise ConfigError(
            f"engine 'numba' trains networks with one hidden layer on uint8 images; got sizes {net.sizes} "
            f"and inputs of dtype {inputs.dtype} (use engine 'numpy')"
        )
    elif name == "numba" and (why := _unbuilt(net.dtype)) is not None:
        raise ConfigError(f"engine 'numba' could not be built ({why}); use engine 'numpy'")
    return engine_for(net, name)


def changed_code(net: Any) -> str | None:
    """The line a run of ``net`` says when its book's code is not the
    shipped code (:func:`nndl.shipped.changes`): which code differs, which
    engine runs, and how to get the fast one back; None when it is the
    shipped code or the reference engine was asked for."""
    engine = getattr(net, "engine", "auto")
    changed = shipped.changes(net)
    if not changed or engine == "reference":
        return None
    yours = "your " + " and ".join(", ".join(changed).rsplit(", ", 1))
    verb = "is" if len(changed) == 1 else "are"
    if engine == "auto":
        return (
            f"nndl: {yours} {verb} not nndl's own code, so training runs yours on the reference engine "
            "(plain NumPy, one mini-batch at a time, slower); for the fast engine again, undo the change, "
            "or name an engine (engine='numpy', or --engine numpy) to train nndl's own code instead"
        )
    return (
        f"nndl: {yours} {verb} not nndl's own code, and engine {engine!r} trains nndl's own code, not yours; "
        "engine 'auto' or 'reference' trains yours"
    )


def forget_data(net: Any) -> None:
    """A new SGD call on ``net`` begins: its engines drop what they derived
    from earlier calls' data (lists of nonzero pixels, copies on a device),
    since the arrays may have changed in place in between."""
    for engine in _ENGINES.get(net, {}).values():
        forget = getattr(engine, "forget", None)
        if forget is not None:
            forget()


def evaluator(net: Any, inputs: np.ndarray, mini_batch_size: int) -> Callable[..., tuple[int, float]]:
    """``accuracy_and_cost(X, labels, guesses=None)`` for ``net`` after each
    epoch: its engine's own when it has one and ``X`` suits it (the compiled
    engine evaluates over the nonzero pixels only), else the network's
    :meth:`~nndl.network.Network.accuracy_and_cost` -- always that of a
    subclass that changes how the network computes or evaluates.  ``guesses``,
    an int array of one entry per example, receives each one's predicted
    class: in the same pass on the compiled engine, else from
    :meth:`~nndl.network.Network.predict`.  The engine is the one training
    chose (asked at each call, so that loading it counts in the first epoch)."""
    own = type(net).accuracy_and_cost

    def evaluate(X: np.ndarray, labels: np.ndarray, guesses: np.ndarray | None = None) -> tuple[int, float]:
        engine = select(net, inputs, mini_batch_size)
        if engine is None and "evaluate" in shipped.changes(net):
            # the reader's evaluate counts, on the book's list of (x, label) tuples
            correct, cost = net.evaluate(book_pairs(X, labels, net.dtype)), net.accuracy_and_cost(X, labels)[1]
            if guesses is not None:
                guesses[:] = net.predict(X)
            return int(correct), cost
        compiled = engine is not None and hasattr(engine, "accuracy_and_cost")
        if compiled and X.dtype == inputs.dtype and own.__qualname__ == "Network.accuracy_and_cost":
            return engine.accuracy_and_cost(net, X, labels, guesses)  # type: ignore[union-attr]
        if guesses is not None:
            guesses[:] = net.predict(X)
        return net.accuracy_and_cost(X, labels)

    return evaluate


def predict(net: Any, X: np.ndarray, engine: str = "numpy") -> np.ndarray:
    """The predicted class of each row of ``X`` as ``engine`` computes it:
    ``"pytensor"`` with the notes' compiled model, ``"numpy"`` with the
    network's own :meth:`~nndl.network.Network.predict`."""
    if engine == "pytensor":
        return engine_for(net, "pytensor").predict(net, X)  # type: ignore[attr-defined]
    return net.predict(X)


def engine_for(net: Any, name: str) -> Engine:
    """``net``'s engine object called ``name`` (made on first use)."""
    cache = _ENGINES.setdefault(net, {})
    if name not in cache:
        cache[name] = _make(name, getattr(net, "device", "cpu"))
    return cache[name]


def preload(
    engine: str, sizes: list[int] | tuple[int, ...], mini_batch_size: int, dtype: Any, code: Any = None
) -> threading.Thread | None:
    """Start loading the compiled engine's machine code for ``dtype`` in a
    background thread, when ``engine`` (``auto`` or ``numba``) would train a
    network of ``sizes`` with it; return the thread (None when nothing to
    load).

    Importing Numba and loading its cached kernels takes a few tenths of a
    second, which would otherwise come between reading the data and the
    first epoch; started before the data is read (mostly a digest, which
    runs without Python's lock), the two overlap.  Nothing depends on the
    thread: a kernel it has not loaded yet is loaded by its first call, and
    its errors are left for that call to report.  ``code``, the network (or
    its class) that will train: when its book's code is not the shipped
    code, ``auto`` trains it on the reference engine and nothing is loaded."""
    if engine not in ("auto", "numba") or not prefers_numba(sizes, mini_batch_size):
        return None
    if engine == "auto" and code is not None and shipped.changes(code):
        return None
    if importlib.util.find_spec("numba") is None:
        return None
    thread = threading.Thread(target=_preload, args=(np.dtype(dtype),), name="nndl-preload", daemon=True)
    thread.start()
    return thread


def _preload(dtype: np.dtype) -> None:
    try:
        from .numba import preload

        preload(dtype)
    except Exception:  # noqa: BLE001 (the first real call reports whatever went wrong)
        pass


def prefers_numba(sizes: list[int] | tuple[int, ...], mini_batch_size: int) -> bool:
    """Whether ``auto`` runs a ``[n_in, H, n_out]`` network with the compiled
    kernel (when it is installed and the inputs are bytes)."""
    return len(sizes) == 3 and mini_batch_size * sizes[1] <= NUMBA_MAX_WORK


#: What ``auto`` says, once, when it would use the compiled engine but Numba does not import.
NO_NUMBA = (
    "nndl: Numba is not installed for this Python, so training runs on NumPy, a few times slower; "
    "for the compiled engine: pip install numba"
)
_said: set[str] = set()


def _say_once(message: str) -> None:
    """Write ``message`` to stderr the first time only (per process)."""
    if message not in _said:
        _said.add(message)
        print(message, file=sys.stderr, flush=True)


def _compiled_here(dtype: Any) -> bool:
    """Whether ``auto`` can train on the compiled engine here; where not, it says why, once."""
    if not _installed("numba"):
        _say_once(NO_NUMBA)
        return False
    why = _unbuilt(dtype)
    if why is not None:
        _say_once(
            f"nndl: the compiled engine could not be built ({why}), so training runs on NumPy, a few times slower"
        )
    return why is None


#: Per dtype: None where the compiled engine's kernels load (or compile), else why not.
_BUILT: dict[np.dtype, str | None] = {}


def _unbuilt(dtype: Any) -> str | None:
    """None where the compiled engine runs here for parameters of ``dtype``,
    else why not (``auto`` says it, once, and trains on NumPy instead).

    The engine builds on Numba's internals, which a Numba release may change
    (nndl pins Numba below the next release it has not been tested with):
    whatever building it raises, training goes on, on NumPy.  Tried once per
    dtype and process."""
    dtype = np.dtype(dtype)
    if dtype not in _BUILT:
        try:
            from .numba import preload

            preload(dtype)
            _BUILT[dtype] = None
        except Exception as e:  # noqa: BLE001 (whatever Numba raises, NumPy trains instead)
            version = getattr(sys.modules.get("numba"), "__version__", "?")
            _BUILT[dtype] = f"Numba {version}: {type(e).__name__}: {' '.join(str(e).split())[:160]}"
    return _BUILT[dtype]


def _numba_applies(net: Any, inputs: np.ndarray) -> bool:
    return len(net.sizes) == 3 and inputs.dtype == np.uint8 and _installed("numba")


def _installed(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _make(name: str, device: str) -> Engine:
    if name == "numpy":
        from .numpy import NumpyEngine

        return NumpyEngine()
    if name == "numba":
        from .numba import SparseEngine

        return SparseEngine()
    if name == "pytensor":
        from .pytensor import PyTensorEngine

        return PyTensorEngine()
    from .torch import TorchEngine

    return TorchEngine(device)


__all__ = [
    "DEVICES",
    "ENGINES",
    "NUMBA_MAX_WORK",
    "Engine",
    "check",
    "changed_code",
    "check_overflow",
    "engine_for",
    "evaluator",
    "forget_data",
    "input_scale",
    "predict",
    "prefers_numba",
    "preload",
    "select",
]
