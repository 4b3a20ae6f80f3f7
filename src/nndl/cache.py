"""The user's cache folder: what nndl keeps between runs, checked before each use.

:func:`cache_dir` is the folder (``$NNDL_CACHE_DIR``, else the platform's
cache folder: ``~/.cache/nndl`` on Linux).  :func:`mapped` keeps bytes that
are slow to make -- the bundled MNIST decompressed -- as a ``.npy`` file
there, memory-mapped on later runs instead of made again.  The file is
never trusted blindly: every use reads it through SHA-256 and compares the
digest with the one the caller expects (a digest of what the package
ships); a missing, truncated, damaged or doctored file is made again and
replaced atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import NNDLError
from .files import atomic_write

#: Set this to keep nndl's cache somewhere other than the user's cache folder.
CACHE_ENV = "NNDL_CACHE_DIR"
#: Bytes read (and hashed) at a time when checking a cache file: few reads, as
#: each waits for Python's lock, which the thread loading the compiled engine holds.
CHUNK = 1 << 23


def cache_dir() -> Path:
    """``$NNDL_CACHE_DIR`` if set, else the user's cache folder: platformdirs'
    when it is installed, else ``$XDG_CACHE_HOME/nndl`` or ``~/.cache/nndl``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    try:
        import platformdirs
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "nndl"
    return Path(platformdirs.user_cache_dir("nndl"))


def mapped(name: str, digest: str, make: Callable[[], np.ndarray]) -> np.ndarray:
    """The bytes whose SHA-256 is ``digest`` (hex), as a read-only ``uint8``
    array memory-mapped from the cache file ``name``.

    A file that is missing or does not hold exactly those bytes is replaced
    by ``make()``'s (a 1-d ``uint8`` array), written atomically; if they do
    not have the digest either, or the cache folder cannot be written, the
    bytes ``make()`` gave are returned as they are, uncached.
    """
    path = cache_dir() / name
    found = _open_checked(path, digest)
    if found is not None:
        return found
    made = np.ascontiguousarray(make(), dtype=np.uint8).reshape(-1)
    made.setflags(write=False)
    if hashlib.sha256(made.data).hexdigest() != digest:
        return made
    with contextlib.suppress(OSError, NNDLError):  # a read-only or full disk: run uncached
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.save(f, made, allow_pickle=False))
    return made


def _open_checked(path: Path, digest: str) -> np.ndarray | None:
    """The memory-mapped bytes of the ``.npy`` file at ``path`` if they have
    the SHA-256 ``digest``, else None.  The digest is taken from the same
    open file that is then mapped, so the file cannot change in between."""
    try:
        f = open(path, "rb")
    except OSError:
        return None
    with f:
        try:
            version = np.lib.format.read_magic(f)
            if version != (1, 0):
                return None
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            offset = f.tell()
            size = os.fstat(f.fileno()).st_size - offset
            if dtype != np.uint8 or fortran or shape != (size,) or size == 0:
                return None
            if _sha256(f) != digest:
                return None
            return np.asarray(np.memmap(f, dtype=np.uint8, mode="r", offset=offset, shape=(size,)))
        except (OSError, ValueError):
            return None


def _sha256(f: io.BufferedReader) -> str:
    """SHA-256 of the rest of ``f``, read a chunk at a time (into one buffer,
    so checking a large file does not map it all into memory)."""
    h = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while n := f.readinto(buffer):
        h.update(view[:n])
    return h.hexdigest()


__all__ = ["CACHE_ENV", "cache_dir", "mapped"]
