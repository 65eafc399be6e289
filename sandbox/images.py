"""Images: the base image (debootstrap rootfs, ``docker import``), the host-side wheelhouse, and the
app's release images built with the SDK (network_mode "none", never pulled), tagged
``boutique/<service>:<release id>``: per release, the Dockerfile's ``app`` stage (web, worker,
migrations) and its ``frontend`` stage (nginx with the release's collected static files)."""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Iterator

import docker
import docker.errors

from . import APP_DIR, BASE_IMAGE, IMAGE_REPOS, QUARANTINE_REPO, SandboxError, progress
from .processes import require
from .state import Paths, atomic_write

DEBIAN_SUITE = "bookworm"
# nginx: the frontend stage's web server (Debian's; its postinst starts nothing in a debootstrap chroot)
DEBOOTSTRAP_INCLUDE = "python3,python3-venv,ca-certificates,postgresql-client-15,nginx"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# standard image hygiene: no apt lists or package caches, docs, man pages or translations
ROOTFS_EXCLUDES = [
    "./var/cache/apt/archives/*.deb", "./var/cache/apt/*.bin", "./var/lib/apt/lists/*",
    "./usr/share/doc/*", "./usr/share/man/*", "./usr/share/info/*", "./usr/share/locale/*",
    "./dev/*", "./proc/*", "./sys/*", "./tmp/*", "./run/*",
]
WHEEL_PLATFORMS = ["manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_28_x86_64",
                   "manylinux_2_34_x86_64", "linux_x86_64"]
VERSION_LABEL = "org.opencontainers.image.version"
RELEASE_LABEL = "org.gonogo.sandbox.release"
#: on the base image: the key of the rootfs it was imported from (a changed package list re-imports it)
ROOTFS_LABEL = "org.gonogo.sandbox.rootfs"
#: the Dockerfile's stages and the services whose images each one makes
TARGETS = {"app": ("web", "worker", "beat", "migrations"), "frontend": ("frontend",)}
FIRST_RELEASE = "1.0.0"


# ------------------------------------------------------------------------------------ helpers


@contextlib.contextmanager
def _cache_lock(paths: Paths, name: str) -> Iterator[None]:
    paths.cache.mkdir(parents=True, exist_ok=True)
    with open(paths.cache / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _vkey(version: str) -> tuple:
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"[.\-]", version))


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


# ------------------------------------------------------------------------------------ base image


def _rootfs_key() -> str:
    spec = f"{DEBIAN_SUITE} minbase {DEBOOTSTRAP_INCLUDE} {' '.join(ROOTFS_EXCLUDES)}"
    return hashlib.sha256(spec.encode()).hexdigest()[:8]


def rootfs_tarball(paths: Paths) -> Path:
    return paths.cache / f"rootfs-{DEBIAN_SUITE}-{_rootfs_key()}.tar"


def tar_rootfs(root: Path, out: Path) -> None:
    """Pack a debootstrapped tree into the cached tarball (atomic)."""
    partial = out.with_suffix(".partial")
    argv = [require("tar"), "--numeric-owner", "-C", str(root)]
    argv += [f"--exclude={pattern}" for pattern in ROOTFS_EXCLUDES]
    argv += ["-cf", str(partial), "."]
    subprocess.run(argv, check=True)
    os.replace(partial, out)


def ensure_rootfs(paths: Paths) -> Path:
    out = rootfs_tarball(paths)
    if out.exists():
        return out
    with _cache_lock(paths, "rootfs"):
        if out.exists():
            return out
        debootstrap = require("debootstrap")
        mirror = os.environ.get("SANDBOX_DEBIAN_MIRROR", DEFAULT_MIRROR)
        root = paths.cache / f"rootfs-build-{os.getpid()}"
        shutil.rmtree(root, ignore_errors=True)
        log = paths.log("debootstrap")
        progress("images", f"debootstrap {DEBIAN_SUITE} (minbase + {DEBOOTSTRAP_INCLUDE}), ~1 min; log {log}")
        t0 = time.monotonic()
        with open(log, "ab") as fh:
            proc = subprocess.run(
                [debootstrap, "--variant=minbase", f"--include={DEBOOTSTRAP_INCLUDE}", DEBIAN_SUITE,
                 str(root), mirror],
                stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
            )
        if proc.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
            raise SandboxError(f"debootstrap failed (exit {proc.returncode}): {tail}")
        tar_rootfs(root, out)
        shutil.rmtree(root, ignore_errors=True)
        progress("images", f"rootfs cached as {out} ({time.monotonic() - t0:.0f}s)")
    return out


def _base_key(client: docker.DockerClient) -> str | None:
    """The rootfs key the engine's base image was imported from (None: no base image)."""
    try:
        return (client.images.get(BASE_IMAGE).labels or {}).get(ROOTFS_LABEL, "")
    except docker.errors.ImageNotFound:
        return None


def ensure_base(client: docker.DockerClient, paths: Paths) -> None:
    """The base image, imported again when the rootfs it came from is not today's (a package added)."""
    key = _rootfs_key()
    if _base_key(client) == key:
        return
    tarball = ensure_rootfs(paths)
    t0 = time.monotonic()
    repo, tag = BASE_IMAGE.split(":")
    client.api.import_image_from_file(
        str(tarball), repository=repo, tag=tag,
        changes=["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "ENV LANG=C.UTF-8", f"LABEL {ROOTFS_LABEL}={key}", 'CMD ["/bin/bash"]'],
    )
    if _base_key(client) != key:
        raise SandboxError(f"docker import of {tarball} did not produce {BASE_IMAGE}")
    progress("images", f"imported {BASE_IMAGE} ({time.monotonic() - t0:.1f}s)")


# ------------------------------------------------------------------------------------ wheelhouse


def wheelhouse(paths: Paths) -> Path:
    requirements = APP_DIR / "requirements.txt"
    if not requirements.exists():
        raise SandboxError(f"{requirements} is missing (the app half of the sandbox)")
    key = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    out = paths.cache / "wheels" / key
    if (out / ".complete").exists():
        return out
    with _cache_lock(paths, "wheels"):
        if (out / ".complete").exists():
            return out
        progress("images", "downloading the wheelhouse (pip download, Python 3.11, manylinux)")
        t0 = time.monotonic()
        out.mkdir(parents=True, exist_ok=True)
        # pip evaluates environment markers against the host's interpreter, not the image's
        # (bookworm's 3.11.2): download every pinned line whatever its marker says
        unmarked = out / "requirements-unmarked.txt"
        unmarked.write_text("".join(
            line.split(";", 1)[0].strip() + "\n"
            for line in requirements.read_text().splitlines()
            if line.split("#", 1)[0].strip()
        ))
        argv = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
                "-r", str(unmarked), "-d", str(out), "--only-binary=:all:",
                "--python-version", "3.11.2", "--implementation", "cp", "--abi", "cp311"]
        for platform in WHEEL_PLATFORMS:
            argv += ["--platform", platform]
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            errors = [line for line in proc.stderr.splitlines() if "ERROR" in line] or proc.stderr.splitlines()
            raise SandboxError(f"pip download of the wheelhouse failed: {' | '.join(errors[-3:])}")
        (out / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
        progress("images", f"wheelhouse ready: {len(list(out.glob('*.whl')))} wheels ({time.monotonic() - t0:.0f}s)")
    return out


# ------------------------------------------------------------------------------------ releases


def versions() -> list[str]:
    """Releases known to the app: 1.0.0 (= app/src) and one per overlay under app/releases/."""
    found = {FIRST_RELEASE}
    rel = APP_DIR / "releases"
    if rel.is_dir():
        found.update(d.name for d in rel.iterdir() if d.is_dir() and re.match(r"^\d+\.\d+\.\d+$", d.name))
    return sorted(found, key=_vkey)


def newest() -> str:
    return versions()[-1]


def _ignored(rel: str) -> bool:
    parts = rel.split("/")
    return any(p == "__pycache__" or p.endswith(".pyc") for p in parts) or parts[-1] in (".DS_Store",)


def _copy_tree(src: Path, dst: Path) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src).as_posix()
        if _ignored(rel):
            continue
        target = dst / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def release_id_of(context: Path) -> str:
    """First 7 hex of a sha256 over the context's files (paths + contents), wheels excepted: they
    are derived from the pinned requirements.txt, which is hashed."""
    h = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        rel = path.relative_to(context).as_posix()
        if rel.startswith("wheels/"):
            continue
        h.update(rel.encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:7]


def prepare_context(paths: Paths, version: str) -> tuple[Path, str]:
    """Assemble the build context of `version` (app files + overlay; wheels added at build)."""
    if version not in versions():
        raise SandboxError(f"unknown release {version!r}; known: {', '.join(versions())}")
    dockerfile = APP_DIR / "Dockerfile"
    if not dockerfile.exists() or not (APP_DIR / "src").is_dir():
        raise SandboxError(f"the app is incomplete: {dockerfile} and {APP_DIR / 'src'} are needed")
    ctx = paths.build_dir / version
    shutil.rmtree(ctx, ignore_errors=True)
    ctx.mkdir(parents=True)
    for name in ("Dockerfile", ".dockerignore", "requirements.txt"):
        if (APP_DIR / name).exists():
            shutil.copy2(APP_DIR / name, ctx / name)
    _copy_tree(APP_DIR / "src", ctx / "src")
    _copy_tree(APP_DIR / "frontend", ctx / "frontend")
    if version != FIRST_RELEASE:
        _copy_tree(APP_DIR / "releases" / version, ctx / "src")
    return ctx, release_id_of(ctx)


def _add_wheels(ctx: Path, wheels: Path) -> None:
    dst = ctx / "wheels"
    dst.mkdir(exist_ok=True)
    for whl in wheels.glob("*.whl"):
        target = dst / whl.name
        if not target.exists():
            try:
                os.link(whl, target)
            except OSError:
                shutil.copy2(whl, target)


def refs(release_id: str) -> dict[str, str]:
    return {svc: f"{repo}:{release_id}" for svc, repo in IMAGE_REPOS.items()}


def quarantine_ref(service: str, release_id: str) -> str:
    return f"{QUARANTINE_REPO}/{service}:{release_id}"


def release_built(client: docker.DockerClient, release_id: str) -> bool:
    return all(image_exists(client, ref) for ref in refs(release_id).values())


def build(client: docker.DockerClient, paths: Paths, version: str, quarantined: set[str] = frozenset()) -> str:
    """Build (if needed) and tag the images of `version`, one Dockerfile stage per group of services
    (``TARGETS``); returns its release id."""
    ctx, rid = prepare_context(paths, version)
    built = [target for target, services in TARGETS.items()
             if _build_target(client, paths, ctx, version, rid, target, [s for s in services if s not in quarantined])]
    if not built:
        progress("images", f"release {version} = {rid}: images present")
    shutil.rmtree(ctx / "wheels", ignore_errors=True)
    return rid


def _build_target(client: docker.DockerClient, paths: Paths, ctx: Path, version: str, rid: str, target: str,
                  services: list[str]) -> bool:
    """Build the stage `target` and tag it for `services`, unless their images exist; True when it did something."""
    group = {svc: refs(rid)[svc] for svc in TARGETS[target]}
    wanted = {svc: group[svc] for svc in services}
    missing = [ref for ref in wanted.values() if not image_exists(client, ref)]
    if not missing:
        return False
    # an existing tag of this stage (e.g. another service's) is the same image: re-tag, no build
    present = [ref for ref in group.values() if image_exists(client, ref)]
    if present:
        _tag(client.images.get(present[0]), missing)
        progress("images", f"release {version} = {rid}: re-tagged {', '.join(missing)}")
        return True
    ensure_base(client, paths)
    _add_wheels(ctx, wheelhouse(paths))
    log_path = paths.log(f"build-{version}-{target}")
    progress("images", f"building release {version} = {rid}, stage {target} (log {log_path})")
    t0 = time.monotonic()
    first_ref = missing[0]
    lines: list[str] = []
    error = None
    with open(log_path, "w") as log:
        stream = client.api.build(
            path=str(ctx), tag=first_ref, target=target, network_mode="none", pull=False, rm=True, forcerm=True,
            decode=True, use_config_proxy=False,
            buildargs={"RELEASE": rid, "RELEASE_VERSION": version},
            labels={VERSION_LABEL: version, RELEASE_LABEL: rid},
        )
        for chunk in stream:
            text = chunk.get("stream") or chunk.get("status") or ""
            if text:
                log.write(text)
                lines.extend(t for t in text.splitlines() if t.strip())
            if "error" in chunk:
                error = chunk.get("error", "").strip()
                log.write(f"ERROR: {error}\n")
    if error:
        context = " | ".join(lines[-4:])
        raise SandboxError(f"image build of release {version} ({target}) failed: {error} ({context}); see {log_path}")
    _tag(client.images.get(first_ref), list(wanted.values()))
    progress("images", f"built release {version} = {rid}, stage {target} ({time.monotonic() - t0:.0f}s)")
    return True


def _tag(image, references: list[str]) -> None:
    for ref in references:
        repo, tag = ref.rsplit(":", 1)
        image.tag(repo, tag)


def archive(paths: Paths, version: str, release_id: str) -> Path:
    """The release's build context as an archive, what a CI keeps of a build
    (``<state>/artefacts/boutique-<release id>.tar.gz``); reproducible: same files, same bytes."""
    out = paths.artefacts / f"boutique-{release_id}.tar.gz"
    if out.exists():
        return out
    context = paths.build_dir / version
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in sorted(p for p in context.rglob("*") if p.is_file()):
            rel = path.relative_to(context).as_posix()
            if rel.startswith("wheels/"):
                continue
            info = tarfile.TarInfo(rel)
            info.size, info.mode = path.stat().st_size, 0o644
            with path.open("rb") as fh:
                tar.addfile(info, fh)
    atomic_write(out, buffer.getvalue())
    progress("images", f"release {version} = {release_id}: archived as {out}")
    return out


def image_release(client: docker.DockerClient, ref: str) -> tuple[str, str] | None:
    """(release id, version) recorded on an image."""
    try:
        labels = client.images.get(ref).labels or {}
    except docker.errors.ImageNotFound:
        return None
    return labels.get(RELEASE_LABEL, ref.rsplit(":", 1)[1]), labels.get(VERSION_LABEL, "")
