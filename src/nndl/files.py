"""Reading and writing files without losing or trusting anything.

Two promises, kept here once for every file nndl touches:

* **Writes are atomic.**  :func:`atomic_write` writes to a temporary file in
  the target's folder, flushes and fsyncs it, then renames it into place.  A
  crash mid-write leaves the old file (or nothing) at the target, never a
  half-written one.
* **Reads are bounded.**  No allocation is sized by what a header claims
  beyond what the file holds; decompressed sizes are capped by
  :data:`MAX_BYTES`; ``.npz`` files are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from .errors import DataError

#: The largest amount of data (after decompression) nndl reads from one file.
MAX_BYTES = 2**31


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(f)`` on a temporary file, then rename it to ``path``.

    The temporary file lives in the same folder so the final ``os.replace`` is
    atomic; it is flushed and fsynced first, and removed if ``write`` fails.
    """
    path = Path(path)
    folder = check_folder(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise DataError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def check_folder(path: str | os.PathLike) -> Path:
    """The folder ``path`` would be written into, which must exist: checked
    before long work whose result goes there, so the work is not lost."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"cannot write {path}: folder {folder} does not exist")
    return folder


def read_bytes(path: str | os.PathLike, limit: int = MAX_BYTES) -> bytes:
    """Read a whole file, gunzipping it when it starts with gzip's magic.

    At most ``limit`` bytes are produced; a larger (or lying) file is refused
    before more than that is held in memory.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            if magic == b"\x1f\x8b":
                return _read_capped(gzip.GzipFile(fileobj=raw), limit, path)
            return _read_capped(raw, limit, path)
    except FileNotFoundError:
        raise DataError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise DataError(f"expected a file, got a folder: {path}") from None
    except PermissionError:
        raise DataError(f"cannot read {path}: permission denied") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is not a readable gzip file ({e})") from None


def _read_capped(f: IO[bytes], limit: int, path: Path) -> bytes:
    chunks = []
    total = 0
    while chunk := f.read(1 << 20):
        total += len(chunk)
        if total > limit:
            raise DataError(f"{path} holds more than {limit:,} bytes of data; refusing to read it")
        chunks.append(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def open_npz(path: str | os.PathLike, limit: int = MAX_BYTES) -> Iterator[NpzReader]:
    """Open an ``.npz`` file for bounded, pickle-free reading of its arrays."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise DataError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise DataError(f"expected a file, got a folder: {path}") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise DataError(f"{path} is not a valid .npz file ({e})") from None
    with zf:
        yield NpzReader(zf, path, limit)


class NpzReader:
    """The arrays of an open ``.npz`` file, each read only after its header
    has been checked against the size the archive really holds."""

    def __init__(self, zf: zipfile.ZipFile, path: Path, limit: int) -> None:
        self._zf = zf
        self.path = path
        self._limit = limit
        self.keys = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self.keys:
            raise DataError(f"{self.path} has no array named {key!r}")
        info = self._zf.getinfo(key + ".npy")
        if info.file_size > self._limit:
            raise DataError(f"{self.path}: array {key!r} is larger than {self._limit:,} bytes")
        try:
            with self._zf.open(info) as member:
                data = _read_capped(member, self._limit, self.path)
            f = io.BytesIO(data)
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(f)
            if dtype.hasobject:
                raise DataError(f"{self.path}: array {key!r} holds Python objects; refusing to unpickle it")
            needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if needed != len(data) - f.tell():
                raise DataError(
                    f"{self.path}: array {key!r} claims shape {shape} of {dtype} "
                    f"({needed:,} bytes) but holds {len(data) - f.tell():,} bytes"
                )
            f.seek(0)
            return np.load(f, allow_pickle=False)
        except DataError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, TypeError) as e:
            raise DataError(f"{self.path}: array {key!r} is unreadable ({e})") from None
