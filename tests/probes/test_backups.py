"""The backups probe against real files: gzip and tar.gz archives written with Python's own tools, in
the layout the runbooks use (``X.sql.gz`` + ``X.sql.gz.sha256`` in ``sha256sum`` format, manifest.json),
broken the ways backups really break; and a 1 GB dump verified with the memory of the process bounded.

The plain dumps here are written with pg_dump's own header and footer lines; the custom-format case
and restores of real pg_dump output are in tests/probes/test_restore.py (a real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from gonogo.probes.backups import (check_sidecar, list_backups, read_archive, read_dump, read_manifest, sidecar_name,
                                   stem)
from gonogo.sections.backups import BackupsSection

DUMP = b"""--
-- PostgreSQL database dump
--

\\restrict Kq3x
SET statement_timeout = 0;
CREATE TABLE public.shop_sale (id integer NOT NULL, total numeric(10,2) NOT NULL);
COPY public.shop_sale (id, total) FROM stdin;
1\t12.50
\\.

--
-- PostgreSQL database dump complete
--

\\unrestrict Kq3x
"""


def write_dump(folder: Path, name: str, content: bytes = DUMP, sidecar: str | None = "{name}.sha256",
               mtime: float | None = None) -> Path:
    path = folder / name
    with gzip.open(path, "wb") as out:
        out.write(content)
    if sidecar:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        (folder / sidecar_name(sidecar, name)).write_text(f"{digest}  {name}\n")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_listing_is_newest_first_and_says_what_is_missing(tmp_path):
    now = time.time()
    write_dump(tmp_path, "shop_prod_20261101T000000Z.sql.gz", mtime=now - 3 * 3600)
    write_dump(tmp_path, "shop_prod_20261102T000000Z.sql.gz", mtime=now - 3600)
    (tmp_path / "other.txt").write_text("x")

    listing = list_backups(tmp_path, "shop_prod_*.sql.gz")

    assert [f.name for f in listing.files] == ["shop_prod_20261102T000000Z.sql.gz", "shop_prod_20261101T000000Z.sql.gz"]
    assert 0.9 < listing.newest.age_h(listing.checked_at) < 1.1
    assert "2 file(s), newest first" in listing.evidence()
    assert list_backups(tmp_path / "nope", "*.sql.gz").error == "the folder does not exist"
    assert list_backups(tmp_path / "other.txt", "*").error == "not a folder"
    assert list_backups(tmp_path, "*.dump").files == ()


def test_a_matching_sidecar(tmp_path):
    path = write_dump(tmp_path, "shop_1.sql.gz")
    fact = check_sidecar(path, "{name}.sha256")
    assert fact.matches and fact.names_the_file and not fact.of_uncompressed, fact

    other = write_dump(tmp_path, "shop_2.sql.gz", sidecar="{stem}.sha256")  # X.sha256 naming
    assert (tmp_path / "shop_2.sha256").is_file()
    assert check_sidecar(other, "{stem}.sha256").matches
    assert not check_sidecar(other, "{name}.sha256").exists


def test_a_sidecar_of_the_uncompressed_dump_says_so(tmp_path):
    path = write_dump(tmp_path, "shop_1.sql.gz", sidecar=None)
    (tmp_path / "shop_1.sql.gz.sha256").write_text(f"{hashlib.sha256(DUMP).hexdigest()}  shop_1.sql\n")

    fact = check_sidecar(path, "{name}.sha256")

    assert not fact.matches and fact.of_uncompressed and fact.names == "shop_1.sql"
    assert "uncompressed content (written before gzip)" in fact.evidence()


@pytest.mark.parametrize(("text", "expected"), [
    ("0" * 64 + "  shop_9.sql.gz\n", "names"),
    ("not a checksum\n", "not a sha256sum line"),
    ("", "not a sha256sum line"),
])
def test_sidecars_that_do_not_match(tmp_path, text, expected):
    path = write_dump(tmp_path, "shop_1.sql.gz", sidecar=None)
    (tmp_path / "shop_1.sql.gz.sha256").write_text(text)
    fact = check_sidecar(path, "{name}.sha256")
    assert not fact.matches
    if expected == "names":
        assert fact.names == "shop_9.sql.gz" and not fact.names_the_file
    else:
        assert expected in fact.error


def test_a_complete_plain_dump(tmp_path):
    fact = read_dump(write_dump(tmp_path, "shop.sql.gz"))
    assert fact.complete and fact.format == "plain" and fact.content_size == len(DUMP)
    plain = tmp_path / "shop.sql"
    plain.write_bytes(DUMP)
    assert read_dump(plain).complete  # not compressed


def test_a_truncated_gzip_and_a_dump_that_stopped_early(tmp_path):
    whole = write_dump(tmp_path, "shop.sql.gz", DUMP * 2000)
    cut = tmp_path / "cut.sql.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    fact = read_dump(cut)
    assert not fact.complete and fact.error == "the gzip stream ends early: the file is truncated"

    stopped = read_dump(write_dump(tmp_path, "stopped.sql.gz", DUMP.split(b"-- PostgreSQL database dump complete")[0]))
    assert stopped.readable and stopped.has_header and not stopped.has_footer and not stopped.complete

    not_gzip = tmp_path / "text.sql.gz"
    not_gzip.write_bytes(DUMP)
    assert "BadGzipFile" in read_dump(not_gzip).error


def test_media_archives(tmp_path):
    good = tmp_path / "media.tar.gz"
    with tarfile.open(good, "w:gz") as tar:
        for i in range(3):
            data = os.urandom(200_000)
            info = tarfile.TarInfo(f"media/invoices/{i}.pdf")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert read_archive(good).readable and read_archive(good).members == 3

    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[:300_000])
    fact = read_archive(cut)
    assert not fact.readable and "truncated" in fact.error


def test_manifests(tmp_path):
    dump = write_dump(tmp_path, "shop_1.sql.gz")
    entry = {"name": dump.name, "size": dump.stat().st_size, "sha256": hashlib.sha256(dump.read_bytes()).hexdigest()}
    (tmp_path / "manifest.json").write_text(json.dumps({"created_at": "2026-11-01T00:00:00Z", "files": [entry]}))
    assert read_manifest(tmp_path, "manifest.json").problems == []

    gone = {"name": "media_1.tar.gz", "size": 10, "sha256": "0" * 64}
    (tmp_path / "manifest.json").write_text(json.dumps({"files": [entry, gone, {**entry, "size": 1}]}))
    problems = read_manifest(tmp_path, "manifest.json").problems
    assert problems == ["media_1.tar.gz: listed but missing", f"shop_1.sql.gz: {entry['size']} bytes, the manifest says 1"]

    (tmp_path / "manifest.json").write_text("{not json")
    assert read_manifest(tmp_path, "manifest.json").problems[0].startswith("not a manifest (JSONDecodeError")
    assert read_manifest(tmp_path, "absent.json").problems == ["no manifest"]


def test_the_table_can_switch_off_what_a_stack_does_not_write():
    section = BackupsSection.model_validate({"dir": "b", "pattern": "*.sql.gz", "manifest": False, "sidecar": False})
    assert section.manifest is False and section.sidecar is False
    with pytest.raises(ValueError, match="must contain {name} or {stem}"):
        BackupsSection.model_validate({"dir": "b", "pattern": "*", "sidecar": "checksum.txt"})
    assert stem("shop_20261101.sql.gz") == "shop_20261101" and stem("x.dump") == "x"


def test_a_1_gb_dump_is_verified_in_little_memory(tmp_path):
    """A 1 GB file on disk (gzip with stored blocks: incompressible data), its sidecar checked and its gzip read
    to the end, in a fresh process whose peak memory stays under 100 MB (VmHWM, the process's own high-water
    mark: ru_maxrss would carry the parent's across exec)."""
    path = tmp_path / "big_20261101T000000Z.sql.gz"
    block = os.urandom(8 * 1024 * 1024)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=0) as out:
        out.write(DUMP.split(b"COPY")[0])
        for _ in range(128):  # 128 x 8 MiB = 1 GiB
            out.write(block)
        out.write(DUMP[DUMP.index(b"\\.") :])
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    (tmp_path / f"{path.name}.sha256").write_text(f"{digest.hexdigest()}  {path.name}\n")
    assert path.stat().st_size > 1_000_000_000

    script = textwrap.dedent(f"""
        import json, re
        from pathlib import Path
        from gonogo.probes.backups import check_sidecar, read_dump

        def peak_kb():
            return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))

        imported = peak_kb()
        path = Path({str(path)!r})
        sidecar, dump = check_sidecar(path, "{{name}}.sha256"), read_dump(path)
        print(json.dumps({{"matches": sidecar.matches, "complete": dump.complete, "content": dump.content_size,
                          "imported_kb": imported, "peak_kb": peak_kb()}}))
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=True)
    result = json.loads(done.stdout)
    print(f"1 GiB dump verified in {time.monotonic() - started:.1f} s: peak memory {result['peak_kb'] / 1024:.0f} MB, "
          f"of which {result['imported_kb'] / 1024:.0f} MB before reading (the imports)")

    assert result["matches"] and result["complete"] and result["content"] > 1 << 30, result
    assert result["peak_kb"] < 100 * 1024, f"peak memory {result['peak_kb'] / 1024:.0f} MB"
    assert result["peak_kb"] - result["imported_kb"] < 16 * 1024, "reading grew the memory by more than 16 MB"


def test_ages_use_the_file_time(tmp_path):
    old = time.time() - 30 * 3600
    write_dump(tmp_path, "shop_1.sql.gz", mtime=old)
    listing = list_backups(tmp_path, "*.sql.gz")
    assert 29.9 < listing.newest.age_h(dt.datetime.now(dt.timezone.utc)) < 30.1


# ---------------------------------------------------------------------------------------- manifest entries

def manifest(folder: Path, *entries: object) -> None:
    (folder / "manifest.json").write_text(json.dumps({"files": list(entries)}))


def test_a_manifest_entry_with_neither_size_nor_digest_verifies_nothing(tmp_path):
    dump = write_dump(tmp_path, "shop_1.sql.gz")
    manifest(tmp_path, {"name": dump.name})
    assert read_manifest(tmp_path, "manifest.json").problems == [
        "shop_1.sql.gz: listed with neither size nor sha256 (nothing to verify it by)"]
    manifest(tmp_path, {"name": dump.name, "size": dump.stat().st_size})  # one of them is evidence
    assert read_manifest(tmp_path, "manifest.json").problems == []


def test_manifest_entries_that_are_not_objects_are_problems_not_errors(tmp_path):
    dump = write_dump(tmp_path, "shop_1.sql.gz")
    ok = {"name": dump.name, "size": dump.stat().st_size}
    manifest(tmp_path, ok, "shop_1.sql.gz", 42, None, {"size": 3}, {"name": dump.name, "size": "big"},
             {"name": "shop\x00.sql.gz", "size": 1}, {"name": dump.name, "size": 1, "sha256": 7})
    fact = read_manifest(tmp_path, "manifest.json")
    assert fact.problems == [
        "entry 2 ('shop_1.sql.gz'): not an object with a name, size and sha256",
        "entry 3 (42): not an object with a name, size and sha256",
        "entry 4 (None): not an object with a name, size and sha256",
        "entry 5 ({'size': 3}): no name",
        "shop_1.sql.gz: size 'big' is not a number of bytes",
        "entry 7 ({'name': 'shop\\x00.sql.gz', 'size': 1}): a name with unprintable characters: not read",
        "shop_1.sql.gz: sha256 7 is not a hex digest"], fact.problems
    assert "entry 2" in fact.evidence() and fact.lists(dump.name)


def test_manifest_names_outside_the_backups_folder_are_never_read(tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("not a backup")
    listed = {"size": secret.stat().st_size, "sha256": hashlib.sha256(secret.read_bytes()).hexdigest()}
    (folder / "link.txt").symlink_to(secret)
    (folder / "loop").symlink_to(folder / "loop")
    (folder / "sub").mkdir()
    inside = write_dump(folder / "sub", "shop_1.sql.gz")
    manifest(folder, {"name": "../secret.txt", **listed}, {"name": str(secret), **listed}, {"name": "link.txt", **listed},
             {"name": "sub/../sub/shop_1.sql.gz", "size": inside.stat().st_size}, {"name": "loop", "size": 1})

    fact = read_manifest(folder, "manifest.json")

    outside = "outside the backups folder: not read"
    assert fact.problems[:3] == [f"../secret.txt: {outside}", f"{secret}: {outside}", f"link.txt: {outside}"], fact.problems
    assert len(fact.problems) == 4 and fact.problems[3].startswith("loop: cannot read it: "), fact.problems
    assert [(e.size, e.sha256) for e in fact.entries[:3]] == [(None, None)] * 3


# ---------------------------------------------------------------------------------------- custom-format dumps

def custom_dump(postgres: Any, path: Path) -> Path:
    """A real ``pg_dump -Fc`` of the ``shop`` database (tests/probes/conftest.py: a few MB, 100 000 rows)."""
    subprocess.run(["pg_dump", "-Fc", "--no-owner", "-f", str(path), "-d", postgres.dsn("owner")],
                   check=True, capture_output=True, timeout=60)
    return path


def toc_end(path: Path, work: Path) -> int:
    """The shortest prefix of a custom dump whose table of contents ``pg_restore --list`` reads (a bisection)."""
    data, low, high = path.read_bytes(), 0, path.stat().st_size
    while low < high:
        middle = (low + high) // 2
        (work / "prefix.dump").write_bytes(data[:middle])
        listed = subprocess.run(["pg_restore", "--list", str(work / "prefix.dump")], capture_output=True, timeout=30, check=False)
        low, high = (low, middle) if listed.returncode == 0 else (middle + 1, high)
    return low


def test_a_custom_dump_cut_anywhere_after_its_table_of_contents_is_incomplete(postgres, tmp_path):
    """pg_restore --list reads every one of these cuts; reading the data blocks to the end finds each."""
    whole = custom_dump(postgres, tmp_path / "shop_1.dump")
    fact = read_dump(whole)
    assert fact.complete and fact.toc_entries > 5 and fact.error is None, fact
    size, toc = whole.stat().st_size, toc_end(whole, tmp_path)
    assert 0 < toc < size // 100, (toc, size)
    for cut_at in (toc, toc + 1, toc + 4096, size // 2, size - 1):
        cut = tmp_path / f"cut_{cut_at}.dump"
        cut.write_bytes(whole.read_bytes()[:cut_at])
        assert subprocess.run(["pg_restore", "--list", str(cut)], capture_output=True, timeout=30, check=False).returncode == 0
        fact = read_dump(cut)
        assert not fact.complete and fact.toc_entries > 5, (cut_at, fact)
        assert fact.error.startswith("pg_restore could not read the dump to its end: "), fact.error
        assert "end of file" in fact.error or "could not find block ID" in fact.error, fact.error
        assert "read to its end: FAILED" in fact.evidence()


def test_a_custom_dump_that_cannot_be_read_in_time(tmp_path):
    """A FIFO nobody writes to: pg_restore waits forever, the probe stops it at its timeout."""
    fifo = tmp_path / "shop_1.dump"
    os.mkfifo(fifo)
    started = time.monotonic()
    fact = read_dump(fifo, timeout_s=1)
    assert not fact.complete and fact.error == "pg_restore did not finish in 1 s", fact
    assert time.monotonic() - started < 10


# ---------------------------------------------------------------------------------------- end to end

REPO = Path(__file__).resolve().parents[2]
CHECKS = {"test_backups.py": (REPO / "checks" / "test_backups.py").read_text()}
PROFILE = """
[environment]
release = "1.4.2"

[backups]
dir = "../backups"
pattern = "shop_*.sql.gz"
retention_days = 7
"""


def gate(run_gate: Any, pytester: pytest.Pytester, *dumps: tuple[str, float], entries: list[object] | None = None) -> Any:
    """The real checks/test_backups.py (predeploy) on a folder of dumps (name, mtime) and its manifest."""
    folder = pytester.path / "backups"
    folder.mkdir(exist_ok=True)
    for name, mtime in dumps:
        write_dump(folder, name, mtime=mtime)
    if entries is None:
        entries = [{"name": name, "size": (folder / name).stat().st_size} for name, _ in dumps]
    manifest(folder, *entries)
    run = run_gate(CHECKS, "-m", "predeploy", profile=PROFILE)
    return run, {e["id"]: e["reason"] for e in run.gate["failed"]}


def test_the_gate_passes_a_sound_folder_and_a_clock_a_little_ahead(run_gate, pytester):
    run, failed = gate(run_gate, pytester, ("shop_2.sql.gz", time.time() + 60), ("shop_1.sql.gz", time.time() - 86400))
    assert failed == {} and run.gate["errored"] == [] and run.gate["counts"]["passed"] == 6, run.log


def test_a_dump_dated_in_the_future_is_no_evidence_of_a_recent_backup(run_gate, pytester):
    run, failed = gate(run_gate, pytester, ("shop_1.sql.gz", time.time() + 3 * 3600))
    assert run.gate["verdict"] == "NO-GO", run.log
    assert set(failed) == {"backups.backup_recent", "backups.retention_respected"}, failed
    for reason in failed.values():
        assert "shop_1.sql.gz dated 3.0 h in the future" in reason and "the gate's clock" in reason, reason


def test_a_manifest_that_proves_nothing_fails_and_never_errors(run_gate, pytester):
    (pytester.path / "outside.sql.gz").write_bytes(b"x")
    run, failed = gate(run_gate, pytester, ("shop_1.sql.gz", time.time() - 60),
                       entries=["shop_1.sql.gz", {"name": "shop_1.sql.gz"}, {"name": "../outside.sql.gz", "size": 1}])
    assert run.gate["errored"] == [] and run.gate["verdict"] == "NO-GO", run.log
    assert set(failed) == {"backups.manifest_matches"}, failed
    reason = failed["backups.manifest_matches"]
    assert "manifest.json" in reason and "entry 1 ('shop_1.sql.gz'): not an object" in reason, reason
    assert "shop_1.sql.gz: listed with neither size nor sha256" in reason, reason
    assert "../outside.sql.gz: outside the backups folder: not read" in reason, reason
