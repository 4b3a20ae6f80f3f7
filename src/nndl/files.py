"""Reading and writing files without losing or trusting anything.

Two promises, kept here once for every file nndl touches:

* **Writes are atomic.**  :func:`atomic_write` writes to a temporary file in
  the target's folder, flushes and fsyncs it, then renames it into place.  A
  crash mid-write leaves the old file (or nothing) at the target, never a
  half-written one.
* **Reads are bounded.**  No allocation is sized by what a header claims
  beyond what the file holds; decompressed sizes are capped by
  :data:`MAX_BYTES` (and tighter where the reader knows what to expect);
  ``.npz`` files are read with ``allow_pickle=False``, and arrays of Python
  objects are refused.

nndl's own files (models, checkpoints) are ``.npz`` files tagged with what
they are and a format version: :func:`write_npz` and
:meth:`NpzReader.check_format`.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import lzma
import os
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from .errors import DataError

#: The largest amount of data (after decompression) nndl reads from one file.
MAX_BYTES = 2**31
#: The most members an ``.npz`` file may hold.
MAX_MEMBERS = 10_000
#: The largest text (JSON settings, history) stored in an ``.npz`` file.
MAX_TEXT = 2**26


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> Path:
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
        os.fchmod(fd, _mode(path))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk, a folder in the way ...
            raise DataError(f"cannot write {path}: {e.strerror or e}") from None
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def _mode(path: Path) -> int:
    """The permissions a rewritten file keeps, or a new file gets from the
    umask (a temporary file starts private, 0600)."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(path).st_mode)
    umask = 0o022
    with contextlib.suppress(OSError, ValueError):  # read, not set: os.umask would race other threads
        status = Path("/proc/self/status").read_text()
        umask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)
    return 0o666 & ~umask


def check_folder(path: str | os.PathLike) -> Path:
    """The folder ``path`` would be written into; a :class:`DataError` if it
    does not exist or ``path`` itself is a folder."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"cannot write {path}: folder {folder} does not exist")
    if path.is_dir():
        raise DataError(f"cannot write {path}: it is a folder")
    return folder


@contextlib.contextmanager
def open_stream(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Open a regular file for reading, gunzipping it on the fly when it
    starts with gzip's magic.  A broken gzip stream becomes a
    :class:`DataError` naming the file."""
    path = Path(path)
    with _open_regular(path) as raw:
        if raw.read(2) != b"\x1f\x8b":
            raw.seek(0)
            yield raw
            return
        raw.seek(0)
        try:
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield cast(IO[bytes], unzipped)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path} is not a readable gzip file ({one_line(e)})") from None


def read_bytes(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """Read a whole file, gunzipping it when it starts with gzip's magic.

    At most ``limit`` bytes (default :data:`MAX_BYTES`) are produced; a
    larger file, or a gzip bomb, is refused before more than that is held in
    memory.
    """
    with open_stream(path) as f:
        return bytes(read_capped(f, MAX_BYTES if limit is None else limit, Path(path)))


def read_capped(f: IO[bytes], limit: int, name: str | os.PathLike, exact: bool = False) -> bytearray:
    """Read ``f`` to its end, refusing (:class:`DataError`) more than ``limit``
    bytes -- or, when ``exact``, anything but exactly ``limit`` bytes.

    Memory grows with what the file really holds, never with a claim: a
    header that promises gigabytes in a tiny file costs nothing.
    """
    data = bytearray()
    while chunk := f.read(min(1 << 20, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            if exact:
                raise DataError(f"{name} holds more data than its header claims ({limit:,} bytes)")
            raise DataError(f"{name} holds more than {limit:,} bytes of data; refusing to read it")
    if exact and len(data) != limit:
        raise DataError(f"{name} is truncated: its header claims {limit:,} bytes of data but it holds {len(data):,}")
    return data


def write_npz(path: str | os.PathLike, kind: str, version: int, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to an ``.npz`` file tagged as ``kind`` (e.g.
    ``"nndl-model"``) of format ``version``, atomically."""
    tagged: dict[str, Any] = {"format": np.array(kind), "format_version": np.array(version), **arrays}
    return atomic_write(path, lambda f: np.savez(f, **tagged))


@contextlib.contextmanager
def open_npz(path: str | os.PathLike, limit: int | None = None) -> Iterator[NpzReader]:
    """Open an ``.npz`` file for bounded, pickle-free reading of its arrays.

    No array may hold more than ``limit`` bytes (default :data:`MAX_BYTES`).
    """
    path = Path(path)
    with _open_regular(path) as raw:
        try:
            zf = zipfile.ZipFile(raw)
            members = len(zf.infolist())
        except _BROKEN as e:
            raise DataError(f"{path} is not a valid .npz file ({one_line(e)})") from None
        with zf:
            if members > MAX_MEMBERS:
                raise DataError(f"{path} holds {members:,} members; at most {MAX_MEMBERS:,} are allowed")
            yield NpzReader(zf, path, MAX_BYTES if limit is None else limit)


@contextlib.contextmanager
def _open_regular(path: Path) -> Iterator[IO[bytes]]:
    """Open ``path`` for reading; refuse what is missing or not a regular file
    (a FIFO would block, a device never end)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode) and not path.is_dir():
            raise DataError(f"{path} is not a regular file")
        raw = open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise DataError(f"expected a file, got a folder: {path}") from None
    except PermissionError:
        raise DataError(f"cannot read {path}: permission denied") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    with raw:
        if not stat.S_ISREG(os.fstat(raw.fileno()).st_mode):
            raise DataError(f"{path} is not a regular file")
        yield raw


#: What zipfile, zlib and NumPy's header parser raise on broken input.
_BROKEN = (
    ValueError,
    TypeError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    struct.error,
    NotImplementedError,  # an unsupported compression method
    RuntimeError,  # an encrypted member
)


def one_line(e: BaseException) -> str:
    """An exception's message on one line, at most 200 characters."""
    return " ".join(str(e).split())[:200]


class NpzReader:
    """The arrays of an open ``.npz`` file, each read only after its header
    has been checked against the size the reader allows."""

    #: The dtypes nndl stores: booleans, integers, floats and text.
    KINDS = "biufU"

    def __init__(self, zf: zipfile.ZipFile, path: Path, limit: int) -> None:
        self._zf = zf
        self.path = path
        self._limit = limit
        self.keys = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def __getitem__(self, key: str) -> np.ndarray:
        return self.read(key)

    def read(self, key: str, limit: int | None = None) -> np.ndarray:
        """The array ``key``, if its data is at most ``limit`` bytes (default:
        the reader's limit).  The header is checked before any data is read."""
        if key not in self.keys:
            raise DataError(f"{self.path} has no array named {key!r}")
        limit = self._limit if limit is None else min(limit, self._limit)
        where = f"{self.path}: array {key!r}"
        try:
            with self._zf.open(key + ".npy") as member:
                version = np.lib.format.read_magic(member)
                if version not in ((1, 0), (2, 0)):
                    raise DataError(f"{where} has unsupported .npy version {version}")
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(member)
                if dtype.hasobject:
                    raise DataError(f"{where} holds Python objects; refusing to unpickle it")
                if dtype.kind not in self.KINDS or dtype.names is not None or dtype.subdtype is not None:
                    raise DataError(f"{where} has dtype {dtype}; expected numbers or text")
                needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if needed > limit:
                    raise DataError(f"{where} claims shape {shape} of {dtype}: more than {limit:,} bytes")
                data = read_capped(member, needed, where, exact=True)
        except _BROKEN as e:
            raise DataError(f"{where} is unreadable ({one_line(e)})") from None
        array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
        return array.astype(dtype.newbyteorder("="), copy=False)

    def check_format(self, kind: str, version: int, what: str) -> None:
        """Check the file is tagged (by :func:`write_npz`) as ``kind`` of
        format ``version``; ``what`` names it in the message."""
        if "format" not in self or "format_version" not in self:
            raise DataError(f"{self.path} is not {what} file (it has no format tag)")
        found = self.text("format", limit=1024)
        number = self.read("format_version", limit=8)
        if found != kind:
            raise DataError(f"{self.path} is not {what} file (it is tagged {found[:60]!r})")
        if number.shape != () or number.dtype.kind not in "iu" or int(number) != version:
            raise DataError(
                f"{self.path} is {what} file of format {number.tolist()!r}; this nndl reads format {version}"
            )

    def text(self, key: str, limit: int = MAX_TEXT) -> str:
        """The string stored as the 0-d text array ``key``."""
        a = self.read(key, limit=4 * limit)
        if a.shape != () or a.dtype.kind != "U":
            raise DataError(f"{self.path}: {key} must be a text, got {a.dtype} {a.shape}")
        return str(a)

    def json(self, key: str, limit: int = MAX_TEXT) -> Any:
        """The JSON value stored as the text ``key``."""
        try:
            return json.loads(self.text(key, limit))
        except (ValueError, RecursionError) as e:
            raise DataError(f"{self.path}: {key} is not valid JSON ({one_line(e)})") from None
