"""Backups probe: the backup files on disk, their checksums, their integrity, the manifest (``[backups]``: :mod:`gonogo.sections.backups`).

Everything is streamed in 1 MiB chunks: a 1 GB dump is read with a few MiB of memory. Facts only:
a missing folder, an unreadable file or a truncated archive is a fact with an ``error``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gonogo.fact import Observed
from gonogo.memo import memoised
from gonogo.secrets import masker
from gonogo.sections.backups import BackupsSection

if TYPE_CHECKING:
    from gonogo.stack import Stack

CHUNK = 1024 * 1024
#: what a plain pg_dump starts with, and the footer it writes when it completed
PLAIN_HEADER = b"-- PostgreSQL database dump"
PLAIN_FOOTER = b"-- PostgreSQL database dump complete"
#: a custom-format pg_dump starts with these bytes
CUSTOM_MAGIC = b"PGDMP"
#: how many bytes at the end of a plain dump are searched for the footer (PostgreSQL 15+ writes
#: ``\unrestrict <key>`` after it)
TAIL = 64 * 1024
_BACKUP_SUFFIXES = (".sql.gz", ".sql", ".dump.gz", ".dump", ".backup", ".tar.gz", ".tgz")
#: how far ahead of the gate's clock a file's time may be and still count: the clocks of the machine that
#: writes the backups (or of its file server) and of the gate's disagree a little (NTP keeps them within a
#: second; a VM resumed from a suspend, or a clock without NTP, drifts by minutes). A file dated further
#: ahead has a wrong clock or a forged time: no evidence of when it was written.
CLOCK_SKEW_S = 300


def stem(name: str) -> str:
    """A backup's name without its backup suffix: ``x_20260101.sql.gz`` -> ``x_20260101``."""
    for suffix in _BACKUP_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name.rsplit(".", 1)[0]


def sidecar_name(naming: str, name: str) -> str:
    return naming.replace("{name}", name).replace("{stem}", stem(name))


@dataclass(frozen=True)
class BackupFile:
    name: str
    size: int
    modified: dt.datetime

    def age_h(self, now: dt.datetime) -> float:
        return (now - self.modified).total_seconds() / 3600

    def ahead_s(self, now: dt.datetime) -> float:
        """How many seconds the file's time is ahead of ``now`` (0 when it is not)."""
        return max((self.modified - now).total_seconds(), 0.0)


class Listing(Observed):
    """The files of a folder that match a pattern, newest first."""

    EVIDENCE_NAME = "backups {folder}/{pattern}"

    folder: str
    pattern: str
    files: tuple[BackupFile, ...] = ()
    error: str | None = None
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def newest(self) -> BackupFile | None:
        return self.files[0] if self.files else None

    @property
    def future(self) -> tuple[BackupFile, ...]:
        """The files dated ahead of the gate's clock by more than :data:`CLOCK_SKEW_S`, newest first."""
        return tuple(f for f in self.files if f.ahead_s(self.checked_at) > CLOCK_SKEW_S)

    def evidence(self) -> str:
        if self.error:
            return masker.mask(f"{self.folder}: {self.error}")
        lines = [f"{self.folder}/{self.pattern}: {len(self.files)} file(s), newest first (at {self.checked_at:%Y-%m-%d %H:%M:%S} UTC)"]
        future = self.future
        lines += [f"  {f.modified:%Y-%m-%d %H:%M:%S}  {f.size:>12}  {f.name}  ("
                  + (f"{f.ahead_s(self.checked_at) / 3600:.1f} h IN THE FUTURE" if f in future
                     else f"{max(f.age_h(self.checked_at), 0):.1f} h old") + ")" for f in self.files]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        newest = self.newest
        return (f"<backups {self.folder}/{self.pattern}: {self.error or f'{len(self.files)} file(s)'}"
                + (f", newest {newest.name}>" if newest else ">"))


def list_backups(folder: Path, pattern: str) -> Listing:
    """The files of ``folder`` matching ``pattern`` (a glob), newest first."""
    try:
        entries = [p for p in folder.iterdir() if fnmatch.fnmatchcase(p.name, pattern) and p.is_file()]
        files = []
        for path in entries:
            stat = path.stat()
            files.append(BackupFile(path.name, stat.st_size, dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc)))
    except FileNotFoundError:
        return Listing(str(folder), pattern, error="the folder does not exist")
    except NotADirectoryError:
        return Listing(str(folder), pattern, error="not a folder")
    except OSError as exc:
        return Listing(str(folder), pattern, error=f"cannot read it: {exc.strerror or exc}")
    return Listing(str(folder), pattern, tuple(sorted(files, key=lambda f: (f.modified, f.name), reverse=True)))


class _Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


def _chunks(handle: _Readable) -> Iterator[memoryview]:
    """A stream's content, chunk by chunk, read into one reused buffer (no allocation per chunk)."""
    view = memoryview(bytearray(CHUNK))
    while count := handle.readinto(view):
        yield view[:count]


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in _chunks(handle):
            digest.update(chunk)
    return digest.hexdigest()


def gunzipped_sha256(path: Path) -> str | None:
    """The hex sha256 of a gzip file's content (None when it is not a readable gzip file)."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as handle:
            for chunk in _chunks(handle):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return digest.hexdigest()


_SIDECAR_LINE = re.compile(r"^(?P<digest>[0-9a-fA-F]{64})\s+\*?(?P<name>.+?)\s*$")


class SidecarFact(Observed):
    """A ``sha256sum``-style sidecar and whether it matches the file it sits beside."""

    file: str
    sidecar: str
    exists: bool
    error: str | None = None
    digest: str | None = None
    #: the file name written in the sidecar
    names: str | None = None
    actual: str | None = None
    #: the sidecar's digest is the one of the file's uncompressed content (written before gzip)
    of_uncompressed: bool = False

    @property
    def names_the_file(self) -> bool:
        return self.names is not None and Path(self.names).name == Path(self.file).name

    @property
    def matches(self) -> bool:
        return self.exists and self.error is None and self.digest == self.actual and self.names_the_file

    def evidence_title(self) -> str:
        return f"checksum {Path(self.sidecar).name}"

    def evidence(self) -> str:
        if not self.exists or self.error:
            return masker.mask(f"{self.sidecar}: {self.error or 'missing'}")
        lines = [f"sidecar: {self.sidecar}", f"  names: {self.names}", f"  digest: {self.digest}",
                 f"file: {self.file}", f"  sha256: {self.actual}"]
        if self.of_uncompressed:
            lines.append("  the sidecar's digest is the one of the file's uncompressed content (written before gzip)")
        return masker.mask("\n".join(lines))


def check_sidecar(path: Path, naming: str) -> SidecarFact:
    """Read the sidecar of ``path`` (named by ``naming``) and compare it with the file's digest."""
    sidecar = path.with_name(sidecar_name(naming, path.name))
    base = SidecarFact(str(path), str(sidecar), exists=sidecar.is_file())
    if not base.exists:
        return base
    try:
        text = sidecar.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError as exc:
        return SidecarFact(str(path), str(sidecar), True, error=f"cannot read it: {exc.strerror or exc}")
    line = _SIDECAR_LINE.match(text[0]) if text else None
    if line is None:
        return SidecarFact(str(path), str(sidecar), True, error="not a sha256sum line ('<64 hex>  <file name>')")
    digest = line["digest"].lower()
    try:
        actual = sha256_of(path)
    except OSError as exc:
        return SidecarFact(str(path), str(sidecar), True, error=f"cannot read {path.name}: {exc.strerror or exc}",
                           digest=digest, names=line["name"])
    uncompressed = digest != actual and path.name.endswith(".gz") and gunzipped_sha256(path) == digest
    return SidecarFact(str(path), str(sidecar), True, digest=digest, names=line["name"], actual=actual,
                       of_uncompressed=uncompressed)


class DumpFact(Observed):
    """A database dump read to its end: its format, whether it is complete, how big."""

    file: str
    format: str
    readable: bool
    error: str | None = None
    size: int = 0
    content_size: int = 0
    has_header: bool = False
    has_footer: bool = False
    #: custom format: the entries of its table of contents (``pg_restore --list``)
    toc_entries: int = 0
    #: custom format: every data block read to the end of the file (``pg_restore -f /dev/null``)
    read_to_end: bool = False

    @property
    def complete(self) -> bool:
        if not self.readable:
            return False
        if self.format == "custom":
            return self.toc_entries > 0 and self.read_to_end
        return self.has_header and self.has_footer

    def evidence_title(self) -> str:
        return f"dump {Path(self.file).name}"

    def evidence(self) -> str:
        lines = [f"{self.file} ({self.format} format, {self.size} bytes on disk"
                 + (f", {self.content_size} bytes of SQL)" if self.format == "plain" else ")")]
        if self.error:
            lines.append(f"  unreadable: {self.error}")
        if self.format == "plain":
            lines.append(f"  header '-- PostgreSQL database dump': {'present' if self.has_header else 'MISSING'}")
            lines.append(f"  footer '-- PostgreSQL database dump complete': {'present' if self.has_footer else 'MISSING'}")
        else:
            lines.append(f"  table of contents: {self.toc_entries} entries")
            lines.append(f"  data read to its end: {'yes' if self.read_to_end else 'FAILED'}")
        return masker.mask("\n".join(lines))


def dump_format(path: Path, configured: str = "auto") -> str:
    if configured != "auto":
        return configured
    return "plain" if path.name.endswith((".sql", ".sql.gz")) else "custom"


def read_dump(path: Path, configured: str = "auto", pg_restore: str = "pg_restore", timeout_s: float = 600) -> DumpFact:
    """Read a dump to its end: gzip integrity, the plain header and footer, or the custom TOC and every data block."""
    kind = dump_format(path, configured)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return DumpFact(str(path), kind, False, error=exc.strerror or str(exc))
    if kind == "custom":
        return _read_custom(path, size, pg_restore, timeout_s)
    head, tail, total = b"", b"", 0
    try:
        with (gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")) as handle:
            for chunk in _chunks(handle):
                if len(head) < 256:
                    head += bytes(chunk[: 256 - len(head)])
                tail = tail[-TAIL:] + bytes(chunk[-TAIL:]) if len(chunk) < TAIL else bytes(chunk[-TAIL:])
                total += len(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        return DumpFact(str(path), kind, False, error=_gzip_error(exc), size=size, content_size=total,
                        has_header=PLAIN_HEADER in head)
    return DumpFact(str(path), kind, True, size=size, content_size=total, has_header=PLAIN_HEADER in head,
                    has_footer=PLAIN_FOOTER in tail)


def _read_custom(path: Path, size: int, pg_restore: str, timeout_s: float) -> DumpFact:
    """``pg_restore --list`` (the table of contents), then ``pg_restore -f /dev/null``: every data block read and
    decompressed to the end of the file (the TOC alone reads with the data cut off), nothing restored anywhere."""
    binary = shutil.which(pg_restore)
    if binary is None:
        return DumpFact(str(path), "custom", False, error=f"{pg_restore} not found (Debian: postgresql-client)", size=size)
    deadline = time.monotonic() + timeout_s
    ok, listed = _pg_restore([binary, "--list", str(path)], deadline, timeout_s)
    if not ok:
        return DumpFact(str(path), "custom", False, error=listed, size=size)
    entries = sum(1 for line in listed.splitlines() if line.strip() and not line.startswith(";"))
    read, error = _pg_restore([binary, "--file", os.devnull, str(path)], deadline, timeout_s)
    if not read:
        cut = " (the file ends before its data: truncated)" if "end of file" in error or "find block ID" in error else ""
        error = error if error.startswith("pg_restore did not") else f"pg_restore could not read the dump to its end: {error}{cut}"
        return DumpFact(str(path), "custom", False, error=error, size=size, toc_entries=entries)
    return DumpFact(str(path), "custom", True, size=size, toc_entries=entries, read_to_end=True)


def _pg_restore(argv: list[str], deadline: float, timeout_s: float) -> tuple[bool, str]:
    """Run pg_restore until ``deadline``: (True, its standard output) or (False, its last error line or the timeout)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL,
                              timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        return False, f"pg_restore did not finish in {timeout_s:g} s"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return False, (lines[-1].removeprefix("pg_restore: error: ") if lines else f"exit {done.returncode}")[:300]
    return True, done.stdout


def _gzip_error(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the gzip stream ends early: the file is truncated"
    if isinstance(exc, tarfile.ReadError) and "unexpected end of data" in str(exc):
        return "the archive ends early: the file is truncated"
    return f"{type(exc).__name__}: {exc}"[:300]


class ArchiveFact(Observed):
    """A tar.gz read member by member to its end."""

    file: str
    readable: bool
    members: int = 0
    error: str | None = None

    def evidence_title(self) -> str:
        return f"archive {Path(self.file).name}"

    def evidence(self) -> str:
        state = f"{self.members} member(s), read to the end" if self.readable else f"unreadable: {self.error}"
        return masker.mask(f"{self.file}: {state}")


def read_archive(path: Path) -> ArchiveFact:
    """Stream a tar.gz to its end (every member's data read), as a restore would."""
    members = 0
    try:
        with tarfile.open(path, "r|gz") as tar:
            for member in tar:
                members += 1
                if member.isfile():
                    data = tar.extractfile(member)
                    if data is not None:
                        for _ in _chunks(data):  # type: ignore[arg-type]  # an ExFileObject: it has readinto
                            pass
    except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        return ArchiveFact(str(path), False, members, _gzip_error(exc))
    return ArchiveFact(str(path), True, members)


@dataclass(frozen=True)
class ManifestEntry:
    """One file the manifest lists, and what is on disk under that name (never read outside the folder)."""

    name: str
    listed_size: int | None
    listed_sha256: str | None
    exists: bool
    size: int | None = None
    sha256: str | None = None
    #: why the entry was not compared with a file (not an object, no name, outside the folder, unreadable)
    refused: str | None = None

    @property
    def problem(self) -> str | None:
        if self.refused:
            return f"{self.name}: {self.refused}"
        if not self.exists:
            return f"{self.name}: listed but missing"
        if self.listed_size is None and self.listed_sha256 is None:
            return f"{self.name}: listed with neither size nor sha256 (nothing to verify it by)"
        if self.listed_size is not None and self.size != self.listed_size:
            return f"{self.name}: {self.size} bytes, the manifest says {self.listed_size}"
        if self.listed_sha256 is not None and self.sha256 != self.listed_sha256.lower():
            return f"{self.name}: sha256 {self.sha256}, the manifest says {self.listed_sha256}"
        return None


class ManifestFact(Observed):
    """A backup manifest (``manifest.json``) compared with the files it lists."""

    path: str
    exists: bool
    error: str | None = None
    entries: tuple[ManifestEntry, ...] = ()
    data: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def problems(self) -> list[str]:
        if not self.exists:
            return ["no manifest"]
        if self.error:
            return [self.error]
        return [p for p in (e.problem for e in self.entries) if p] or ([] if self.entries else ["it lists no file"])

    def lists(self, name: str) -> bool:
        return any(e.name == name for e in self.entries)

    def evidence_title(self) -> str:
        return f"manifest {Path(self.path).name}"

    def evidence(self) -> str:
        if not self.exists or self.error:
            return masker.mask(f"{self.path}: {self.error or 'missing'}")
        lines = [f"{self.path}:", json.dumps({k: v for k, v in self.data.items() if k != "files"}, default=str)]
        lines += [f"  {e.name}: " + (e.refused or f"listed {e.listed_size} bytes {e.listed_sha256}; on disk "
                  + (f"{e.size} bytes {e.sha256}" if e.exists else "MISSING")) for e in self.entries]
        return masker.mask("\n".join(lines))


def read_manifest(folder: Path, name: str) -> ManifestFact:
    """Read ``folder/name`` (``{"files": [{"name", "size", "sha256"}, ...]}``) and check every file it lists."""
    path = folder / name
    if not path.is_file():
        return ManifestFact(str(path), False)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, list):
            raise TypeError("'files' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return ManifestFact(str(path), True, error=f"not a manifest ({type(exc).__name__}: {exc})")
    return ManifestFact(str(path), True, entries=tuple(_entry(folder, n, i) for n, i in enumerate(files, 1)), data=data)


def _entry(folder: Path, number: int, item: object) -> ManifestEntry:
    """One manifest entry compared with its file; a file whose path resolves outside ``folder`` is never read."""
    label = f"entry {number} ({item!r:.60})"
    if not isinstance(item, dict):
        return ManifestEntry(label, None, None, False, refused="not an object with a name, size and sha256")
    name, size, digest = item.get("name"), item.get("size"), item.get("sha256")
    if not isinstance(name, str) or not name:
        return ManifestEntry(label, None, None, False, refused="no name")
    if not name.isprintable():
        return ManifestEntry(label, None, None, False, refused="a name with unprintable characters: not read")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
        return ManifestEntry(name, None, None, False, refused=f"size {size!r:.40} is not a number of bytes")
    if digest is not None and not isinstance(digest, str):
        return ManifestEntry(name, size, None, False, refused=f"sha256 {digest!r:.40} is not a hex digest")
    try:
        listed = (folder / name).resolve()  # symlinks followed: what would be read
        if not listed.is_relative_to(folder.resolve()):
            return ManifestEntry(name, size, digest, False, refused="outside the backups folder: not read")
        if not listed.is_file():
            return ManifestEntry(name, size, digest, False)
        return ManifestEntry(name, size, digest, True, size=listed.stat().st_size, sha256=sha256_of(listed))
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (before Python 3.13)
        return ManifestEntry(name, size, digest, False, refused=f"cannot read it: {getattr(exc, 'strerror', None) or exc}")


class BackupsProbe:
    """The stack's backups (``stack.backups``): each fact is read once per session (a dump may be large)."""

    def __init__(self, section: BackupsSection, folder: Path) -> None:
        self.section = section
        self.folder = folder

    def __repr__(self) -> str:
        return f"<backups probe {self.folder}/{self.section.pattern}>"

    @memoised
    def dumps(self) -> Listing:
        """The database dumps, newest first."""
        return list_backups(self.folder, self.section.pattern)

    @memoised
    def media(self) -> Listing | None:
        """The media archives, newest first (None when the profile names none)."""
        return list_backups(self.folder, self.section.media_pattern) if self.section.media_pattern else None

    def newest_dump(self) -> Path | None:
        newest = self.dumps.newest
        return self.folder / newest.name if newest else None

    @memoised
    def sidecar(self) -> SidecarFact | None:
        """The newest dump's checksum sidecar (None without a dump, or when the profile says there is none)."""
        newest = self.newest_dump()
        if newest is None or self.section.sidecar is False:
            return None
        return check_sidecar(newest, self.section.sidecar)

    @memoised
    def dump(self) -> DumpFact | None:
        """The newest dump, read to its end."""
        newest = self.newest_dump()
        return read_dump(newest, self.section.format, timeout_s=self.section.read_timeout_s) if newest else None

    @memoised
    def manifest(self) -> ManifestFact | None:
        return read_manifest(self.folder, self.section.manifest) if self.section.manifest is not False else None

    @memoised
    def media_archive(self) -> ArchiveFact | None:
        """The newest media archive, read to its end."""
        newest = self.media.newest if self.media else None
        return read_archive(self.folder / newest.name) if newest else None


def from_stack(stack: Stack) -> BackupsProbe:
    """``stack.backups``: the backups of ``[backups]``: the folder (relative to the profile), its dumps, sidecars,
    manifest."""
    section = stack.section("backups")
    return BackupsProbe(section, stack.env.resolve_path(section.dir))
