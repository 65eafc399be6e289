"""Staging beside prod (`python -m sandbox up --with-staging`, RCY-5, RCY-6): its own Compose project, env file,
database, dirs and domain on the same engine and Traefik; its own profile (environments/sandbox-staging.toml) GO
when healthy and NO-GO when its web is stopped; prod's gate unchanged beside it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509

from sandbox import probes

if TYPE_CHECKING:
    from conftest import Sandbox

REPO = Path(__file__).resolve().parents[2]
STAGING_HOST = "staging.shop.localhost"


def gate(sb: "Sandbox", tmp_path: Path, env: str, marker: str, select: str) -> tuple[str, dict[str, Any]]:
    """A partial run of one profile against this session's sandbox: (stdout, gate.json)."""
    gate_file = tmp_path / f"gate-{env}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--env", env, "-m", marker, "-k", select, "--partial",
         "-p", "no:cacheprovider", f"--gate-file={gate_file}"],
        cwd=REPO, env=sb.env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert gate_file.is_file(), proc.stdout + proc.stderr
    return proc.stdout, json.loads(gate_file.read_text())


def failed_ids(result: dict[str, Any]) -> set[str]:
    return {entry["id"] for entry in result["failed"] + result["errored"]}


def test_staging_runs_beside_prod_with_its_own_everything(sandbox: "Sandbox") -> None:
    sandbox.with_staging()
    prod, staging = sandbox.values, sandbox.staging_values

    assert staging["ENVIRONMENT"] == "staging" and staging["ALLOWED_HOSTS"].split(",")[0] == STAGING_HOST
    assert all(staging[k] != prod[k] for k in ("SECRET_KEY", "DATABASE_URL", "DEMO_PASSWORD", "SMTP_PASSWORD",
                                                "STRIPE_WEBHOOK_SECRET", "REDIS_URL", "WEB_PORT"))
    assert staging["DATABASE_URL"].endswith("/boutique_staging") and staging["REDIS_URL"].endswith("/1")
    assert staging["SANDBOX_HTTPS_PORT"] == prod["SANDBOX_HTTPS_PORT"], "the same Traefik"

    web = sandbox.staging_container("web")
    assert web.labels["com.docker.compose.project"] == "boutique-staging"
    assert web.attrs["Config"]["Image"] == f"boutique/web:{sandbox.state['current']}"
    binds = sorted(m["Source"] for m in web.attrs["Mounts"])
    assert binds == sorted(str(sandbox.state_dir / "staging" / d) for d in ("backups", "faults", "media")), binds
    migrations = sandbox.staging_container("migrations").attrs["State"]
    assert migrations["Status"] == "exited" and migrations["ExitCode"] == 0
    assert ("boutique_staging",) in sandbox.sql("SELECT datname FROM pg_database")

    ready = sandbox.ready(host=STAGING_HOST)
    assert ready.status == 200 and ready.json()["release"] == sandbox.state["current"], ready.text
    assert sandbox.ready().status == 200, "prod answers on its own domain"
    cert = probes.served_certificate(sandbox.values, host=STAGING_HOST)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert STAGING_HOST in san.get_values_for_type(x509.DNSName), "the certificate names staging's domain"

    status = json.loads(sandbox.cli("status", "--json").stdout)
    assert status["staging"]["up"] and status["staging"]["https_ready"] == 200, status["staging"]
    assert status["containers"]["boutique-staging-web-1"]["status"] == "healthy"
    again = sandbox.cli("up", "--with-staging", label="up --with-staging (again)")
    assert again.elapsed < 15, f"an idempotent up --with-staging took {again.elapsed:.1f}s"


def test_staging_profile_is_go_and_prod_compares_its_secrets(sandbox: "Sandbox", tmp_path: Path) -> None:
    """RCY-5: staging's own profile is GO on healthy staging; RCY-6 and NPR-5 from prod's side with staging up."""
    sandbox.with_staging()
    out, staging = gate(sandbox, tmp_path, "sandbox-staging", "postdeploy", "health or isolation")
    assert staging["verdict"] == "GO", out[-3000:]
    assert staging["counts"]["passed"] >= 4 and not failed_ids(staging), staging["counts"]

    # health: prod's required subject, judged by any run of its phases, --partial or not
    out, prod = gate(sandbox, tmp_path, "sandbox", "predeploy or postdeploy", "isolation or config or health")
    assert prod["verdict"] == "GO", out[-3000:]
    assert "config.secrets_differ" not in {s["id"] for s in prod["skipped"]}, prod["skipped"]


def test_staging_web_stopped_is_no_go_for_staging_only(sandbox: "Sandbox", tmp_path: Path) -> None:
    sandbox.with_staging()
    sandbox.staging_container("web").stop(timeout=3)
    try:
        out, staging = gate(sandbox, tmp_path, "sandbox-staging", "postdeploy", "health")
        assert staging["verdict"] == "NO-GO", out[-3000:]
        assert {"health.endpoint_healthy[live]", "health.endpoint_healthy[ready]"} <= failed_ids(staging), out[-3000:]
        out, prod = gate(sandbox, tmp_path, "sandbox", "postdeploy", "health")
        assert prod["verdict"] == "GO", out[-3000:]
    finally:
        sandbox.cli("up", "--with-staging", label="up --with-staging (web stopped)")
    assert sandbox.ready(host=STAGING_HOST).status == 200


def test_shared_volume_without_staging_is_a_clear_error(sandbox: "Sandbox", tmp_path: Path) -> None:
    """A state without staging up (a copy of this one's, staging left out): the fault refuses, naming the fix."""
    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(sandbox.state_dir / ".env.sandbox", state / ".env.sandbox")
    (state / "state.json").write_text(json.dumps({**sandbox.state, "staging": None, "faults": {}}))
    env = {**sandbox.env, "SANDBOX_STATE_DIR": str(state)}

    proc = sandbox.cli("fault", "shared-volume", check=False, env=env, timeout=30)
    assert proc.returncode == 2 and "staging is not up: run `python -m sandbox up --with-staging`" in proc.stderr, \
        proc.stderr
    assert "Traceback" not in proc.stderr
