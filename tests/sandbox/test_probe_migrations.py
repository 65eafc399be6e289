"""The migrations probe against the sandbox's real Django and PostgreSQL: ``showmigrations`` run in the
web container through the Docker API (both of Django's listings), the release's build artefact read
as its source, the state under the faults that touch migrations (pending-migration; migrations-failed,
which leaves the migration state intact), a command that fails or says too much, the database down, and an
application rollback that leaves the database newer than the release (the rollback phase's NO-GO).
Alembic and Prisma are in tests/probes/test_migrations.py (no sandbox needed).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from gonogo.probes.commands import CommandProbe
from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.probes.database import DatabaseProbe
from gonogo.sections.database import DatabaseSection
from gonogo.probes.migrations import MigrationsProbe, MigrationState
from gonogo.sections.migrations import MigrationsConfig

if TYPE_CHECKING:
    from conftest import Sandbox

REPO = Path(__file__).resolve().parents[2]
PROJECT = "boutique-sandbox"
LAST_SHOP = "shop.0002_sale_day_method_index"


@pytest.fixture(scope="module")
def docker(sandbox: "Sandbox") -> Iterator[DockerProbe]:
    probe = DockerProbe(DockerSection(host=sandbox.values["SANDBOX_DOCKER_HOST"], compose_project=PROJECT,
                                      timeout_s=10))
    yield probe
    probe.close()


def read(sandbox: "Sandbox", docker: DockerProbe, phase: str = "postdeploy", **config: Any) -> MigrationState:
    """A fresh reading (no cache): the sandbox profile's table, with ``config`` on top."""
    values = sandbox.values
    artefact = sandbox.state_dir / "artefacts" / f"boutique-{values['RELEASE']}.tar.gz"
    settings = MigrationsConfig.model_validate({"tool": "django", "service": "web", "scripts": artefact, **config})
    db = DatabaseProbe(DatabaseSection(dsn=SecretStr(values["DATABASE_URL_READONLY"]), connect_timeout_s=3))
    return MigrationsProbe(settings, db, REPO, CommandProbe(REPO, docker)).state(phase)


def test_the_healthy_sandbox(sandbox: "Sandbox", docker: DockerProbe) -> None:
    after = read(sandbox, docker)
    before = read(sandbox, docker, "predeploy")

    assert after.error is None and (after.pending, after.unknown) == ((), ()), after.evidence()
    assert after.release.source == (f"`python manage.py showmigrations --plan` in container {PROJECT}-web-1 "
                                    f"(service web, image boutique/web:{sandbox.state['current']})")
    assert set(after.release.names) == set(after.database.applied) and LAST_SHOP in after.release.names
    assert before.error is None and (before.pending, before.unknown) == ((), ()), before.evidence()
    assert before.release.apps == ("promotions", "shop")
    assert {n.split(".")[0] for n in before.not_compared} == {"admin", "auth", "contenttypes", "sessions"}
    assert "the deploy will apply nothing" in before.evidence()


def test_djangos_default_listing_reads_the_same(sandbox: "Sandbox", docker: DockerProbe) -> None:
    listed = read(sandbox, docker, command="python manage.py showmigrations")
    planned = read(sandbox, docker)

    assert listed.error is None, listed.evidence()
    assert set(listed.release.names) == set(planned.release.names)
    assert set(listed.release.applied or ()) == set(planned.release.applied or ())


def test_pending_migration(sandbox: "Sandbox", docker: DockerProbe, faults: Any) -> None:
    faults(("pending-migration",))

    after = read(sandbox, docker)
    before = read(sandbox, docker, "predeploy")

    assert after.pending == (LAST_SHOP,) and after.unknown == (), after.evidence()
    assert f"[ ] {LAST_SHOP}" in after.evidence()
    assert before.pending == (LAST_SHOP,) and f"the deploy will apply 1: {LAST_SHOP}" in before.evidence()


def test_migrations_failed_leaves_the_migration_state_intact(sandbox: "Sandbox", docker: DockerProbe,
                                                             faults: Any) -> None:
    """The one-shot re-run could not even log in: it applied nothing, so the database's migrations are
    those of its last good run. The migration state has nothing to show; the one-shot's exit code is
    what says it failed ([docker] one_shot, the containers subject)."""
    healthy = read(sandbox, docker)
    faults(("migrations-failed",))

    after = read(sandbox, docker)

    assert after.error is None and (after.pending, after.unknown) == ((), ()), after.evidence()
    assert after.database.applied == healthy.database.applied


def test_a_command_that_fails_and_a_service_that_does_not_run(sandbox: "Sandbox", docker: DockerProbe) -> None:
    failing = read(sandbox, docker, command=["python", "manage.py", "showmigrations", "--settings=config.settings.nope"])
    exited = read(sandbox, docker, service="migrations")

    assert failing.release.error is not None and failing.release.error.startswith("exit code 1: "), failing.evidence()
    assert "No module named 'config.settings.nope'" in failing.release.error
    assert exited.release.error is not None and exited.release.error.startswith(
        f"no running container for service migrations in project {PROJECT} ({PROJECT}-migrations-1 is Exited (0) ")
    assert failing.database.error is None and failing.pending == ()


def test_a_listing_longer_than_what_is_kept(sandbox: "Sandbox", docker: DockerProbe) -> None:
    """Only the end of a long output is kept: its first migrations would be missing, so it is not read."""
    fact = read(sandbox, docker, command=["python", "-c", "print('[X]  shop.0001_initial'); print('x' * 300000)"])

    assert fact.release.error == "the listing is longer than the 256 KiB gonogo keeps of a command's output"


def test_database_down(sandbox: "Sandbox", docker: DockerProbe, faults: Any) -> None:
    faults(("db-down",))

    after = read(sandbox, docker)

    assert after.database.error is not None and "Connection refused" in after.database.error, after.evidence()
    assert after.release.error is not None and after.release.error.startswith("exit code 1: "), after.evidence()
    assert sandbox.values["DATABASE_URL_READONLY"] not in after.evidence()


def _gate(sandbox: "Sandbox", tmp_path: Path, phase: str) -> dict[str, Any]:
    gate_file = tmp_path / "gate.json"
    subprocess.run([sys.executable, "-m", "pytest", "-m", phase, "-k", "migrations and not commands", "--partial",
                    "--env", "sandbox", "-p", "no:cacheprovider", f"--gate-file={gate_file}",
                    f"--alluredir={tmp_path / 'allure'}"], cwd=REPO, env=sandbox.env, capture_output=True, text=True,
                   timeout=300, stdin=subprocess.DEVNULL)
    return dict(json.loads(gate_file.read_text()))


def test_an_application_rollback_over_a_newer_database(sandbox: "Sandbox", docker: DockerProbe,
                                                       tmp_path: Path) -> None:
    """Rolling the application back to 1.0.0 without restoring the database leaves 1.1.0's migration
    (promotions.0001_initial) applied: the rollback phase says so (BTQ-6.A is not enough: 6.B restores)."""
    state = sandbox.state
    current = state["current"]
    sandbox.cli("rollback", "--app-only", label="rollback --app-only")
    try:
        after = read(sandbox, docker, "rollback")
        gate = _gate(sandbox, tmp_path, "rollback")
    finally:
        sandbox.cli("deploy", current, label="deploy (back to the newest release)")

    assert after.unknown == ("promotions.0001_initial",) and after.pending == (), after.evidence()
    assert gate["verdict"] == "NO-GO", gate["reasons"]
    [failed] = gate["failed"]
    assert failed["id"] == "migrations.none_unknown[rollback]", gate["failed"]
    assert failed["reason"] == ("migrations unknown to the release: expected every applied migration known to the "
                                "release rolled back to, got 1 applied but unknown to it: promotions.0001_initial")
    sandbox.assert_healthy()
    assert sandbox.state["current"] == current and sandbox.state["previous"] == state["previous"]
