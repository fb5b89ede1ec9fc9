"""What `motcua init` and the first dossier leave on disk is not readable by other users of the machine, whatever
the umask the service runs with: the database 0600, the development PKI's keys 0600 in 0700 directories, stored
objects 0440 in 0750 directories, the state directory not world-accessible."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from dossiers.clock import SimulatedClock
from motcua.app import build_runtime
from motcua.settings import Settings
from tests.conftest import MONDAY_MORNING, Api
from tests.integration.server import motcua_command

pytestmark = pytest.mark.integration


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _init_with_umask_0(var: Path) -> None:
    env = {**os.environ, "MOTCUA_VAR_DIR": str(var)}
    env.pop("MOTCUA_DATABASE_URL", None)
    env.pop("MOTCUA_STORAGE_URL", None)
    done = subprocess.run(
        [*motcua_command(), "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=lambda: os.umask(0),  # noqa: PLW1509 - the most permissive umask a service could run with
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_nothing_motcua_init_and_a_dossier_leave_is_open_to_other_users(tmp_path: Path) -> None:
    var = tmp_path / "var"
    _init_with_umask_0(var)

    assert _mode(var) & 0o007 == 0, oct(_mode(var))
    database = var / "motcua.sqlite3"
    for path in [database, *var.glob("motcua.sqlite3-*")]:
        assert _mode(path) == 0o600, (path.name, oct(_mode(path)))

    pki = var / "pki"
    keys = sorted(pki.rglob("*.p12"))
    assert keys
    for key in keys:
        assert _mode(key) == 0o600, (key, oct(_mode(key)))
    for directory in [pki, *(p for p in pki.rglob("*") if p.is_dir())]:
        assert _mode(directory) == 0o700, (directory, oct(_mode(directory)))

    previous = os.umask(0)
    try:
        runtime = build_runtime(Settings(var_dir=var, demo_clock=True), clock=SimulatedClock(MONDAY_MORNING))
        try:
            r = Api(runtime).submit()
            assert r.status_code == 201, r.text
        finally:
            runtime.close()
    finally:
        os.umask(previous)
    objects = var / "objects"
    stored = [p for p in objects.rglob("*") if p.is_file()]
    assert stored
    for path in stored:
        assert _mode(path) == 0o440, (path, oct(_mode(path)))
    for directory in [objects, *(p for p in objects.rglob("*") if p.is_dir())]:
        assert _mode(directory) & 0o027 == 0, (directory, oct(_mode(directory)))  # 0750, .tmp 0700
    for path in [database, *var.glob("motcua.sqlite3-*")]:
        assert _mode(path) == 0o600, (path.name, oct(_mode(path)))


def test_an_existing_database_loses_access_by_others(tmp_path: Path) -> None:
    """An installation made before this rule: the next start takes the database's group and world access off."""
    from persistence.uow import make_engine

    database = tmp_path / "old.sqlite3"
    database.write_bytes(b"")
    database.chmod(0o644)
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    finally:
        engine.dispose()
    assert _mode(database) == 0o600
