"""The sandbox's own tests: one real sandbox for the whole session, in its own state dir.

The ``sandbox`` fixture runs ``python -m sandbox up`` once (state in ``sandbox/.state-tests`` unless
SANDBOX_TEST_STATE_DIR says otherwise, so a user's sandbox is untouched; images and caches are
reused across runs) and ``down`` at the end (staging too). Staging (``up --with-staging``) is brought
up the first time a test asks for it (``sandbox.with_staging()``, or a fault that needs it) and stays
up until the end: one sandbox. It always uses a private dockerd (DOCKER_HOST is
dropped), so container names never clash with another sandbox. Probes here talk to the stack
directly (sockets, HTTPS to 127.0.0.1 with SNI, the Docker API, PostgreSQL), never through gonogo.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sandbox import probes  # noqa: E402  (the stack's own loopback-only HTTPS/TLS helpers)

STATE_DIR = Path(os.environ.get("SANDBOX_TEST_STATE_DIR") or REPO / "sandbox" / ".state-tests").resolve()
TIMINGS: list[tuple[str, float]] = []
#: faults that need staging up beside prod
NEEDS_STAGING = frozenset({"shared-volume"})


class Sandbox:
    """Handle on the test sandbox: its CLI, env file values, Docker client and direct probes."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
        self.env["SANDBOX_STATE_DIR"] = str(state_dir)
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self._client: docker.DockerClient | None = None
        self._staging_up = False

    # ---- staging beside prod
    def with_staging(self) -> None:
        """Bring staging up (once per session, unless a test took it down since); ``down`` takes it down."""
        if not (self._staging_up and self.state.get("staging")):
            self.cli("up", "--with-staging", label="up --with-staging")
            self._staging_up = True

    @property
    def staging_values(self) -> dict[str, str]:
        return self._read_env(self.state_dir / ".env.staging")

    def staging_container(self, service: str):
        return self.docker.containers.get(f"boutique-staging-{service}-1")

    # ---- the lifecycle command
    def cli(self, *args: str, check: bool = True, timeout: float = 900, label: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "sandbox", *args], cwd=REPO, env=env or self.env,
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        elapsed = time.monotonic() - t0
        TIMINGS.append((label or " ".join(args), elapsed))
        sys.stderr.write(proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"`python -m sandbox {' '.join(args)}` exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        proc.elapsed = elapsed  # type: ignore[attr-defined]
        return proc

    # ---- configuration
    @property
    def values(self) -> dict[str, str]:
        return self._read_env(self.state_dir / ".env.sandbox")

    @staticmethod
    def _read_env(path: Path) -> dict[str, str]:
        out = {}
        for line in path.read_text().splitlines():
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
            if m:
                out[m.group(1)] = m.group(2)
        return out

    @property
    def state(self) -> dict[str, Any]:
        return json.loads((self.state_dir / "state.json").read_text())

    @property
    def backups_dir(self) -> Path:
        return self.state_dir / "backups"

    # ---- Docker
    @property
    def docker(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker.DockerClient(base_url=self.values["SANDBOX_DOCKER_HOST"], timeout=60)
        return self._client

    def container(self, service: str):
        return self.docker.containers.get(f"boutique-sandbox-{service}-1")

    def health(self, service: str) -> str:
        c = self.container(service)
        st = c.attrs["State"]
        if st.get("Restarting"):
            return "restarting"
        if not st.get("Running"):
            return st.get("Status", "exited")
        return (st.get("Health") or {}).get("Status", "running")

    def image_tag(self, service: str) -> str:
        return self.container(service).attrs["Config"]["Image"].rsplit(":", 1)[1]

    # ---- HTTP(S) through Traefik, loopback only
    def https(self, method: str, path: str, **kw) -> probes.Response:
        return probes.https(self.values, method, path, **kw)

    def ready(self, host: str = probes.APP_HOST) -> probes.Response:
        return probes.ready(self.values, timeout=5, host=host)

    def session(self) -> probes.Session:
        s = probes.Session(self.values)
        assert s.login(), "could not log in as the demo user"
        return s

    # ---- business flows, as a browser would post them
    @staticmethod
    def select_options(html: str, name: str) -> list[str]:
        m = re.search(rf'<select name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
        assert m, f"no <select name={name}> in the page"
        return [v for v in re.findall(r'<option value="([^"]*)"', m.group(1)) if v]

    def record_sale(self, s: probes.Session, payment: str = "cash", customer: str = "") -> probes.Response:
        """Post the sale screen with two lines; returns the final response (after redirects)."""
        page = s.get("/sales/new/")
        assert page.status == 200, page.status
        skus = self.select_options(page.text, "form-0-product")
        form = {
            "csrfmiddlewaretoken": s.csrf_token(page.text) or "",
            "form-TOTAL_FORMS": "5", "form-INITIAL_FORMS": "0", "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "50",
            "form-0-product": skus[0], "form-0-quantity": "2",
            "form-1-product": skus[1], "form-1-quantity": "1",
            "payment_method": payment, "customer": customer,
        }
        return s.post("/sales/new/", form)

    def customer_id(self, s: probes.Session) -> str:
        page = s.get("/sales/new/")
        return self.select_options(page.text, "customer")[0]

    def balance(self, s: probes.Session, customer: str) -> str:
        page = s.get(f"/customers/{customer}/")
        m = re.search(r'data-testid="customer-balance"[^>]*>([^<]+)<', page.text)
        assert m, "no customer-balance on the customer page"
        return m.group(1).strip()

    def pay_credit(self, s: probes.Session, customer: str, amount: str = "1.00") -> probes.Response:
        page = s.get(f"/customers/{customer}/")
        form = {"csrfmiddlewaretoken": s.csrf_token(page.text) or "", "amount": amount, "method": "cash", "note": "test"}
        return s.post(f"/customers/{customer}/", form)

    # ---- PostgreSQL (read-only role)
    def sql(self, query: str, *params: Any) -> list[tuple]:
        with psycopg.connect(self.values["DATABASE_URL_READONLY"], connect_timeout=3) as conn:
            return conn.execute(query, params).fetchall()

    # ---- backups
    def newest_dump(self) -> Path:
        dumps = sorted(self.backups_dir.glob("boutique_sandbox_*.sql.gz"))
        assert dumps, f"no backup in {self.backups_dir}"
        return dumps[-1]

    @staticmethod
    def sha256(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    @staticmethod
    def gzip_ok(path: Path) -> bool:
        try:
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        except (EOFError, OSError):
            return False
        return b"PostgreSQL database dump complete" in data

    # ---- waiting
    @staticmethod
    def eventually(check, timeout: float = 20, interval: float = 0.25, what: str = "condition"):
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                result = check()
                if result is None or result:
                    return result
            except (AssertionError, OSError, ValueError, docker.errors.APIError, psycopg.Error) as exc:
                last = exc
            time.sleep(interval)
        raise AssertionError(f"timed out waiting for {what}: {last!r}")

    def assert_healthy(self, timeout: float = 30) -> None:
        """The whole stack looks healthy from outside: every probe direct."""
        def check() -> bool:
            r = self.ready()
            assert r.status == 200, r.text
            assert r.json()["status"] == "ok", r.text
            d = self.https("GET", "/health/detailed/")  # the worker answers its ping, the channel layer works
            assert d.status == 200 and d.json()["status"] == "ok", d.text
            for service in ("web", "worker", "beat", "frontend"):
                assert self.health(service) == "healthy", f"{service}: {self.health(service)}"
            mig = self.container("migrations").attrs["State"]
            assert mig["Status"] == "exited" and mig["ExitCode"] == 0, mig
            tags = {self.image_tag(s) for s in ("web", "worker", "beat", "migrations", "frontend")}
            assert tags == {self.state["current"]}, tags
            return True
        self.eventually(check, timeout=timeout, what="a healthy sandbox")


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    sb = Sandbox(STATE_DIR)
    fresh = not (STATE_DIR / "state.json").exists()
    up = sb.cli("up", label="up (session start)")
    sb.cli("heal", label="heal (leftovers)")  # a crashed earlier run may have left a fault active
    from sandbox import images

    newest = images.newest()
    if sb.state["releases"][sb.state["current"]] != newest:  # an earlier run stopped on another release
        assert not fresh, "up on a fresh state must run the newest release"
        sb.cli("deploy", newest, label=f"deploy {newest} (leftovers)")
    sb.fresh = fresh  # type: ignore[attr-defined]
    sb.first_up_seconds = up.elapsed  # type: ignore[attr-defined]
    yield sb
    if sb._client is not None:
        sb._client.close()
    sb.cli("down", check=False, label="down (session end)")


@pytest.fixture
def faults(sandbox: Sandbox) -> Iterator[Any]:
    """``faults(("db-down", ...))`` applies faults; each is healed at the end, then ``after_heal`` (what the
    test asks to see once healed) holds and the sandbox is healthy again."""
    applied: list[str] = []
    after: list[Any] = []

    def apply(names: tuple[str, ...], after_heal: Any = None) -> None:
        for name in names:
            if name in NEEDS_STAGING:
                sandbox.with_staging()
            sandbox.cli("fault", name, label=f"fault {name}")
            applied.append(name)
        if after_heal is not None:
            after.append(after_heal)

    yield apply
    for name in reversed(applied):
        sandbox.cli("heal", name, label=f"heal {name}")
    for check in after:
        sandbox.eventually(lambda: check() or True, timeout=30, what=f"{'+'.join(applied)} healed")
    if applied:
        sandbox.assert_healthy()


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS:
        terminalreporter.section("sandbox command timings")
        for label, seconds in TIMINGS:
            terminalreporter.write_line(f"{seconds:7.1f}s  python -m sandbox {label}")
