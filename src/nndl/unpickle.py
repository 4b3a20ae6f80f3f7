"""The book's pickle, read without running it.

A pickle is a program: unpickling runs its opcodes, and ``GLOBAL`` +
``REDUCE`` call any function they name.  Two gates keep that program
harmless: every opcode is checked against those that tuples of NumPy arrays
need before anything runs, and the only callables it can reach are the
stand-ins below, which check every argument and build plain arrays
themselves -- NumPy's own unpickling code never sees the file's bytes.

:func:`load_arrays` reads such a file (``mnist.pkl.gz``, gzip'd or plain);
:func:`nndl.data.load` checks that what it holds is the book's layout.
"""

from __future__ import annotations

import functools
import io
import math
import pickle
import pickletools
import struct
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import DataError
from .files import Budget, one_line, read_bytes

#: The opcodes of a pickle of tuples of NumPy arrays, protocols 0 to 5.
_PICKLE_OPCODES = frozenset(
    """PROTO FRAME STOP MARK TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_TUPLE GLOBAL STACK_GLOBAL REDUCE BUILD
    PUT BINPUT LONG_BINPUT MEMOIZE GET BINGET LONG_BINGET INT BININT BININT1 BININT2 LONG1
    NEWTRUE NEWFALSE NONE STRING BINSTRING SHORT_BINSTRING UNICODE BINUNICODE SHORT_BINUNICODE
    BINUNICODE8 BINBYTES SHORT_BINBYTES BINBYTES8 BYTEARRAY8""".split()
)
#: The most opcodes such a pickle may run (the book's file runs a few dozen).
MAX_PICKLE_OPCODES = 10_000
#: The dtypes an unpickled array may have: booleans, integers, floats.
_PICKLE_DTYPES = frozenset("b1 i1 u1 i2 u2 i4 u4 i8 u8 f2 f4 f8".split())


def _check_opcodes(raw: bytes, path: Path) -> None:
    """Refuse, before it runs, a pickle that does more than build arrays."""
    try:
        for count, (op, _, _) in enumerate(pickletools.genops(raw)):
            if op.name not in _PICKLE_OPCODES:
                raise DataError(f"{path}: refusing to unpickle opcode {op.name}: only NumPy arrays are allowed")
            if count >= MAX_PICKLE_OPCODES:
                raise DataError(f"{path}: more than {MAX_PICKLE_OPCODES:,} pickle opcodes; refusing to unpickle it")
    except (ValueError, EOFError, struct.error, OverflowError) as e:
        raise DataError(f"{path} is not a readable pickle ({one_line(e)})") from None


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and nothing else; every
    array it builds is taken from the file's ``budget``."""

    def __init__(self, file: IO[bytes], budget: Budget, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.budget = budget

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): "_reconstruct",
        ("numpy._core.multiarray", "_reconstruct"): "_reconstruct",
        ("numpy.core.numeric", "_frombuffer"): "_frombuffer",  # protocol 5
        ("numpy._core.numeric", "_frombuffer"): "_frombuffer",
        ("numpy", "ndarray"): "ndarray",
        ("numpy", "dtype"): "dtype",
        ("_codecs", "encode"): "encode",  # how Python 3 writes bytes in protocol 2
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise DataError(f"refusing to unpickle {module}.{name}: only NumPy arrays are allowed")
        stand_in = self.ALLOWED[module, name]
        return {
            "_reconstruct": functools.partial(_reconstruct, budget=self.budget),
            "_frombuffer": functools.partial(_frombuffer, budget=self.budget),
            "ndarray": _NDARRAY,
            "dtype": _Dtype,
            "encode": _latin1,
        }[stand_in]


_NDARRAY = object()  # stands for numpy.ndarray: a marker, never a callable


def _latin1(text: Any, encoding: Any) -> bytes:
    if not (isinstance(text, str) and encoding == "latin1"):
        raise DataError("refusing to unpickle _codecs.encode with anything but text as latin1")
    return text.encode("latin1")


class _Dtype:
    """Stands for ``numpy.dtype(name, align, copy)``: a plain number type."""

    def __init__(self, name: Any, align: Any = False, copy: Any = True) -> None:
        if not (isinstance(name, str) and name in _PICKLE_DTYPES):
            raise DataError(f"refusing to unpickle dtype {str(name)[:40]!r}: only numbers are allowed")
        self.dtype = np.dtype(name)

    def __setstate__(self, state: Any) -> None:
        # (version, byte order, subarray, names, fields, elsize, alignment, flags)
        if not (isinstance(state, tuple) and len(state) >= 5 and state[1] in ("<", ">", "|", "=")):
            raise DataError("refusing to unpickle a malformed dtype")
        if any(part is not None for part in state[2:5]):
            raise DataError("refusing to unpickle a structured dtype")
        if state[1] in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(state[1])


class _Array:
    """Stands for an array while unpickling; ``array`` is built, after every
    check, when the pickle hands over the data (``__setstate__``)."""

    array: np.ndarray | None = None

    def __init__(self, budget: Budget) -> None:
        self.budget = budget

    def __setstate__(self, state: Any) -> None:
        # (version, shape, dtype, is_fortran, data); old pickles omit version
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]
        if not (isinstance(state, tuple) and len(state) == 4):
            raise DataError("refusing to unpickle a malformed array")
        shape, dtype, fortran, data = state
        self.array = _build_array(data, dtype, shape, "F" if fortran else "C", self.budget)


def _reconstruct(cls: Any, shape: Any, dtype: Any, *, budget: Budget) -> _Array:
    """Stands for NumPy's pickle hook; the array's real shape, dtype and
    data arrive afterwards through ``__setstate__``."""
    if cls is not _NDARRAY:
        raise DataError("refusing to unpickle an array of another class")
    return _Array(budget)


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any, *, budget: Budget) -> _Array:
    """Stands for NumPy's protocol-5 hook, with the data in the pickle."""
    made = _Array(budget)
    made.array = _build_array(buffer, dtype, shape, order, budget)
    return made


def _build_array(data: Any, dtype: Any, shape: Any, order: Any, budget: Budget) -> np.ndarray:
    """A plain array of ``shape`` from the bytes ``data``, which must hold it
    exactly; what it costs is taken from ``budget`` (the same bytes may be
    referred to many times in a pickle, and each array may become a copy)."""
    if not isinstance(dtype, _Dtype):
        raise DataError("refusing to unpickle an array without a plain dtype")
    if not (
        isinstance(shape, tuple)
        and len(shape) <= 32
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise DataError(f"refusing to unpickle an array of shape {str(shape)[:60]}")
    if isinstance(data, str):  # Python 2's str, read as latin1
        data = data.encode("latin1")
    if not isinstance(data, (bytes, bytearray)) or order not in ("C", "F"):
        raise DataError("refusing to unpickle an array whose data is not bytes")
    needed = math.prod(shape) * dtype.dtype.itemsize
    if needed != len(data):
        raise DataError(f"an array claims shape {shape} of {dtype.dtype} ({needed:,} bytes) but holds {len(data):,}")
    budget.take(needed, "its arrays")
    array = np.frombuffer(data, dtype=dtype.dtype).reshape(shape, order=order)
    return np.ascontiguousarray(array, dtype=dtype.dtype.newbyteorder("="))


def _unwrap(obj: Any, depth: int = 0) -> Any:
    """The unpickled object with each stand-in replaced by its array."""
    if isinstance(obj, _Array):
        if obj.array is None:
            raise DataError("an array in the pickle was never given its data")
        return obj.array
    if isinstance(obj, tuple) and depth < 8:
        return tuple(_unwrap(o, depth + 1) for o in obj)
    return obj


def load_arrays(path: Path) -> Any:
    """What the pickle at ``path`` (gzip'd or plain) holds: tuples (nested up
    to 8 deep) of plain NumPy arrays, built without running anything in the
    file; anything else is refused with a one-line :class:`DataError`."""
    budget = Budget.for_file(path)
    raw = read_bytes(path, budget=budget)
    _check_opcodes(raw, path)
    try:
        return _unwrap(_ArraysOnly(io.BytesIO(raw), budget, encoding="latin1").load())
    except DataError as e:
        raise DataError(e.args[0] if str(e).startswith(str(path)) else f"{path}: {e}") from None
    except Exception as e:  # a malformed pickle can fail in many ways
        raise DataError(
            f"{path} is not a readable pickle ({type(e).__name__}: {' '.join(str(e).split())[:200]})"
        ) from None


__all__ = ["MAX_PICKLE_OPCODES", "load_arrays"]
