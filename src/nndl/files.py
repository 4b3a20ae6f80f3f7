"""Reading and writing files without losing or trusting anything.

Two promises, kept here once for every file nndl touches:

* **Writes are atomic.**  :func:`atomic_write` writes to a temporary file in
  the target's folder, flushes and fsyncs it, then renames it into place.  A
  crash mid-write leaves the old file (or nothing) at the target, never a
  half-written one.
* **Reads are bounded, per file.**  No allocation is sized by what a header
  claims beyond what the file holds, and each file has a :class:`Budget`:
  everything decompressed or built from it, all its arrays together, is at
  most :data:`MAX_RATIO` times the file's size (at least :data:`MIN_BUDGET`,
  at most :data:`MAX_BYTES`), so a small file never costs gigabytes.  JSON is
  parsed by :func:`parse_json`, bounded in size, values and depth.
  ``.npz`` files are read with ``allow_pickle=False``, and arrays of Python
  objects are refused.
* **Outputs are checked before the work.**  :func:`check_output` says in
  one line whether a regular file can be written at a path, before a long
  run that would write it.

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
#: ... and at most this many times the file's own size: a few kilobytes that
#: would unpack to gigabytes (a zip or gzip bomb) are refused.
MAX_RATIO = 64
#: ... though always this much, so small files of very regular data still read.
MIN_BUDGET = 128 * 2**20
#: The most members an ``.npz`` file may hold.
MAX_MEMBERS = 10_000
#: The longest text (JSON settings, history), in characters, stored in an ``.npz`` file.
MAX_TEXT = 2**25
#: The most values (numbers, strings, lists, objects) one JSON text may hold: a
#: history of 100,000 epochs holds 1.8 million.
MAX_JSON_VALUES = 2_000_000
#: ... of which at most this many strings (keys included), the costliest values.
MAX_JSON_STRINGS = 1_000_000
#: The most digits of one JSON integer (int() of a long string takes quadratic time).
MAX_JSON_DIGITS = 40


class Budget:
    """What one file may still cost: the bytes nndl decompresses from it or
    builds out of it.

    Each reader takes what it is about to allocate from the file's budget
    *before* allocating it, so the memory a file costs is bounded per file,
    however many arrays (or pickled objects, or JSON texts) it holds.
    """

    def __init__(self, name: str | os.PathLike, total: int) -> None:
        self.name, self.total, self.used = str(name), total, 0

    @classmethod
    def for_size(cls, name: str | os.PathLike, size: int) -> Budget:
        """The budget of a file of ``size`` bytes: :data:`MAX_RATIO` times
        its size, at least :data:`MIN_BUDGET`, at most :data:`MAX_BYTES`."""
        return cls(name, min(MAX_BYTES, max(MIN_BUDGET, MAX_RATIO * size)))

    @classmethod
    def for_file(cls, path: str | os.PathLike) -> Budget:
        """The budget of the file at ``path`` (see :meth:`for_size`)."""
        try:
            size = os.stat(path).st_size
        except OSError:
            size = 0  # opening it will say what is wrong
        return cls.for_size(path, size)

    @property
    def left(self) -> int:
        return self.total - self.used

    def take(self, n: int, what: str = "its data") -> None:
        """Account for ``n`` more bytes, or refuse them with a :class:`DataError`."""
        if n > self.left:
            spent = f", {self.used:,} of them spent" if self.used else ""
            raise DataError(
                f"{self.name}: {what} would take {n:,} bytes; nndl reads at most {self.total:,} from this file"
                f"{spent} ({MAX_RATIO} times its size, at least {MIN_BUDGET:,}, at most {MAX_BYTES:,})"
            )
        self.used += n


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object], *, exclusive: bool = False) -> Path:
    """Call ``write(f)`` on a temporary file, then rename it to ``path``.

    The temporary file lives in the same folder so the final ``os.replace`` is
    atomic; it is flushed and fsynced first, and removed if ``write`` fails.
    With ``exclusive`` the file is linked into place only if ``path`` does
    not exist yet (:class:`FileExistsError` otherwise): of two programs
    writing the same new path at once, exactly one succeeds.
    """
    path = Path(path)
    folder = check_output(path, probe=False)
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
        if exclusive:
            os.link(tmp, path)  # fails if path exists, atomically
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, FileExistsError) and exclusive:
            raise
        if isinstance(e, OSError):  # a full disk, a folder in the way ...
            raise DataError(f"cannot write {path}: {e.strerror or e}") from None
        raise
    sync_folder(folder)  # make the rename itself durable
    return path


def sync_folder(folder: str | os.PathLike) -> None:
    """Flush ``folder``'s entries (renames, new files) to disk, where the
    system allows it."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


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


def check_output(path: str | os.PathLike, *, folder: bool = False, probe: bool = True) -> Path:
    """Check that nndl can write a regular file at ``path`` (with ``folder``:
    files into the folder ``path``, made if missing), before any work that
    would end by writing it.  Returns the folder the file goes into.

    Refused, with a one-line :class:`DataError`: a missing folder, a folder
    where a file should go, a device, FIFO or socket (``/dev/null`` would be
    replaced), a symbolic link (the rename would replace the link, not what
    it points to), and -- with ``probe`` -- a folder nndl cannot create
    files in (read-only, no permission, full), found by creating and removing
    a temporary file there, the way :func:`atomic_write` will.
    """
    path = Path(path)
    try:
        where = _output_folder(path, folder)
    except OSError as e:  # a folder on the way that nndl may not look into
        raise DataError(f"cannot write {path}: {e.strerror or e}") from None
    if probe:
        try:
            fd, tmp = tempfile.mkstemp(prefix=".nndl-probe.", suffix=".tmp", dir=where)
        except OSError as e:
            raise DataError(f"cannot write {path}: cannot create files in {where} ({e.strerror or e})") from None
        os.close(fd)
        os.unlink(tmp)
    return where


def _output_folder(path: Path, folder: bool) -> Path:
    """The folder a file at ``path`` (or, with ``folder``, files in ``path``)
    would be created in, after the checks of :func:`check_output` that need
    no writing."""
    if folder:
        where = path
        while not os.path.lexists(where) and where != where.parent:
            where = where.parent  # the nearest folder that exists: the rest will be made
        if not where.is_dir():
            raise DataError(f"cannot write into {path}: {where} is not a folder")
        return where
    where = path.parent if str(path.parent) else Path(".")
    if not where.is_dir():
        raise DataError(f"cannot write {path}: folder {where} does not exist")
    if path.is_symlink():
        raise DataError(f"cannot write {path}: it is a symbolic link (to {os.readlink(path)}); give the real path")
    if os.path.lexists(path):
        mode = os.lstat(path).st_mode
        if stat.S_ISDIR(mode):
            raise DataError(f"cannot write {path}: it is a folder")
        if not stat.S_ISREG(mode):
            raise DataError(f"cannot write {path}: it is not a regular file (a device, FIFO or socket)")
    return where


@contextlib.contextmanager
def open_stream(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Open a regular file for reading, gunzipping it on the fly when it
    starts with gzip's magic.  A broken gzip stream becomes a
    :class:`DataError` naming the file."""
    path = Path(path)
    with open_regular(path) as raw:
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


def read_bytes(path: str | os.PathLike, limit: int | None = None, budget: Budget | None = None) -> bytes:
    """Read a whole file, gunzipping it when it starts with gzip's magic.

    At most ``limit`` bytes (default: what the file's :class:`Budget` allows)
    are produced and taken from ``budget``; a larger file, or a gzip bomb, is
    refused before more than that is held in memory.
    """
    budget = budget or Budget.for_file(path)
    limit = budget.left if limit is None else min(limit, budget.left)
    with open_stream(path) as f:
        if not isinstance(f, gzip.GzipFile):  # a plain file: its size is known, read it in one piece
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise DataError(f"{path} holds more than {limit:,} bytes of data; refusing to read it")
            data = f.read(size + 1)
            if len(data) > limit:
                raise DataError(f"{path} holds more than {limit:,} bytes of data; refusing to read it")
        else:
            data = bytes(read_capped(f, limit, Path(path)))
    budget.take(len(data))
    return data


def read_json(path: str | os.PathLike, limit: int | None = None, what: str = "a JSON file") -> Any:
    """The JSON value in the file at ``path`` (at most ``limit`` bytes),
    parsed by :func:`parse_json`: a one-line :class:`DataError` for text that
    is not UTF-8 JSON, or that would build too much."""
    data = read_bytes(path, limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not {what}: it is not UTF-8 text ({one_line(e)})") from None
    del data
    return parse_json(text, f"{path}", what)


def parse_json(text: str, where: str, what: str = "JSON") -> Any:
    """Parse ``text`` as JSON, bounded in what it builds.

    Before parsing, the values are counted from above (every value but the
    first in a list or object follows a comma or a colon) and more than
    :data:`MAX_JSON_VALUES` are refused, as are more than
    :data:`MAX_JSON_STRINGS` strings (counted by their quotes); integers longer than
    :data:`MAX_JSON_DIGITS` digits are refused while parsing (Python's
    ``int`` takes quadratic time on long strings of digits), and nesting
    deeper than Python's recursion limit is a :class:`DataError`, not a
    ``RecursionError``.
    """
    values = text.count(",") + text.count(":") + text.count("[") + text.count("{") + 1
    if values > MAX_JSON_VALUES:
        raise DataError(f"{where} holds up to {values:,} JSON values; nndl reads at most {MAX_JSON_VALUES:,}")
    strings = text.count('"') // 2
    if strings > MAX_JSON_STRINGS:
        raise DataError(f"{where} holds up to {strings:,} JSON strings; nndl reads at most {MAX_JSON_STRINGS:,}")
    try:
        return json.loads(text, parse_int=_json_int)
    except RecursionError:
        raise DataError(f"{where} is not {what}: its JSON nests too deeply") from None
    except ValueError as e:
        raise DataError(f"{where} is not {what} ({one_line(e)})") from None


def _json_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_JSON_DIGITS:
        raise ValueError(f"an integer of {len(digits):,} digits; at most {MAX_JSON_DIGITS} are read")
    return int(digits)


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


def write_npz(
    path: str | os.PathLike, kind: str, version: int, arrays: dict[str, np.ndarray], *, exclusive: bool = False
) -> Path:
    """Write ``arrays`` to an ``.npz`` file tagged as ``kind`` (e.g.
    ``"nndl-model"``) of format ``version``, atomically (and, with
    ``exclusive``, only if ``path`` does not exist: see :func:`atomic_write`)."""
    tagged: dict[str, Any] = {"format": np.array(kind), "format_version": np.array(version), **arrays}
    return atomic_write(path, lambda f: np.savez(f, **tagged), exclusive=exclusive)


@contextlib.contextmanager
def open_npz(path: str | os.PathLike, limit: int | None = None) -> Iterator[NpzReader]:
    """Open an ``.npz`` file for bounded, pickle-free reading of its arrays.

    No array may hold more than ``limit`` bytes (default :data:`MAX_BYTES`),
    and all the arrays read, together, no more than the file's
    :class:`Budget`; members that claim more than the budget in all are
    refused before any is decompressed.
    """
    path = Path(path)
    with open_regular(path) as raw:
        budget = Budget.for_size(path, os.fstat(raw.fileno()).st_size)
        try:
            zf = zipfile.ZipFile(raw)
            infos = zf.infolist()
        except _BROKEN as e:
            raise DataError(f"{path} is not a valid .npz file ({one_line(e)})") from None
        with zf:
            if len(infos) > MAX_MEMBERS:
                raise DataError(f"{path} holds {len(infos):,} members; at most {MAX_MEMBERS:,} are allowed")
            budget.take(sum(i.file_size for i in infos), "its members, unpacked,")
            budget.used = 0  # the claims fit; what is read is counted as it is read
            yield NpzReader(zf, path, MAX_BYTES if limit is None else limit, budget)


@contextlib.contextmanager
def open_regular(path: Path) -> Iterator[IO[bytes]]:
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

    def __init__(self, zf: zipfile.ZipFile, path: Path, limit: int, budget: Budget | None = None) -> None:
        self._zf = zf
        self.path = path
        self._limit = limit
        self.budget = budget or Budget(path, MAX_BYTES)
        self.keys = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def __getitem__(self, key: str) -> np.ndarray:
        return self.read(key)

    def read(self, key: str, limit: int | None = None) -> np.ndarray:
        """The array ``key``, if its data is at most ``limit`` bytes (default:
        the reader's limit) and fits what is left of the file's budget.  The
        header is checked before any data is read; the array is C-ordered,
        native-endian and writable."""
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
                converted = (fortran and len(shape) > 1) or not dtype.isnative
                cost = needed * (2 if converted else 1)
                if needed > limit or cost > self.budget.left:
                    left = min(limit, self.budget.left)
                    raise DataError(
                        f"{where} claims shape {shape} of {dtype}: more than {left:,} bytes, the most nndl reads here"
                    )
                self.budget.take(cost, f"array {key!r}")
                data = read_capped(member, needed, where, exact=True)
        except _BROKEN as e:
            raise DataError(f"{where} is unreadable ({one_line(e)})") from None
        array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
        if converted:
            array = np.ascontiguousarray(array, dtype=dtype.newbyteorder("="))
        return array

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
        """The string stored as the 0-d text array ``key`` (at most ``limit`` characters)."""
        a = self.read(key, limit=4 * limit)
        if a.shape != () or a.dtype.kind != "U":
            raise DataError(f"{self.path}: {key} must be a text, got {a.dtype} {a.shape}")
        return str(a)

    def json(self, key: str, limit: int = MAX_TEXT) -> Any:
        """The JSON value stored as the text ``key``, parsed by :func:`parse_json`."""
        return parse_json(self.text(key, limit), f"{self.path}: {key}", "valid JSON")
