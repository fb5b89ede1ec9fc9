"""Migrations match the models; `motcua init` is idempotent; `motcua users add|list` make working accounts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from motcua.cli import app
from persistence.migrate import upgrade
from persistence.schema import metadata
from persistence.uow import make_engine

pytestmark = pytest.mark.integration


def test_migrations_create_exactly_the_schema_of_the_models(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path}/m.sqlite3")
    upgrade(db)
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    db.dispose()
    assert diff == []


@pytest.fixture
def var_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    var = tmp_path / "var"
    monkeypatch.setenv("MOTCUA_VAR_DIR", str(var))
    return var


def test_init_twice_changes_nothing_the_second_time(var_env: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["init"])
    assert first.exit_code == 0, first.output
    assert "two-tier-2025" in first.output
    assert "tiepnhan.xa1" in first.output
    second = runner.invoke(app, ["init"])
    assert second.exit_code == 0, second.output
    assert "structures: unchanged" in second.output
    assert "deployed: unchanged" in second.output
    assert "demo users" not in second.output


def test_users_add_creates_an_account_that_can_log_in(var_env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--no-demo"]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "users", "add", "chuyenvien.moi", "--role", "specialist", "--name", "Đỗ Thị Hạnh",
            "--agency", "000.00.31.H99", "--department", "000.00.31.H99-PKT", "--password", "mat-khau-du-dai",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listed = json.loads(runner.invoke(app, ["users", "list", "--json"]).output)
    assert [u["username"] for u in listed] == ["chuyenvien.moi"]
    assert listed[0]["full_name"] == "Đỗ Thị Hạnh"

    from api.app import asgi
    from motcua.app import build_runtime
    from motcua.settings import Settings

    runtime = build_runtime(Settings())
    try:
        client = TestClient(asgi(runtime))
        ok = client.post("/api/auth/token", json={"username": "chuyenvien.moi", "password": "mat-khau-du-dai"})
        assert ok.status_code == 200
        bad = client.post("/api/auth/token", json={"username": "chuyenvien.moi", "password": "sai-mat-khau"})
        assert bad.status_code == 401
        assert bad.json()["title"] == "Sai tên đăng nhập hoặc mật khẩu."
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "specialist", "--name", "X", "--password", "12345678"], "officials need both"),
        (
            ["--role", "specialist", "--name", "X", "--agency", "000.00.31.H99", "--department", "NOPE",
             "--password", "12345678"],
            "has no department NOPE",
        ),
        (["--role", "citizen", "--name", "X", "--password", "short"], "at least 8 characters"),
    ],
)  # fmt: skip
def test_users_add_refuses_bad_input(var_env: Path, args: list[str], message: str) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--no-demo"]).exit_code == 0
    result = runner.invoke(app, ["users", "add", "someone", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_adding_an_existing_user_is_refused_without_update(var_env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    again = runner.invoke(
        app, ["users", "add", "congdan1", "--role", "citizen", "--name", "X", "--password", "12345678"]
    )
    assert again.exit_code == 2
    assert "already exists" in again.output
    updated = runner.invoke(
        app, ["users", "add", "congdan1", "--role", "citizen", "--name", "X", "--password", "12345678", "--update"]
    )
    assert updated.exit_code == 0, updated.output


def test_audit_verify_reports_an_intact_chain(var_env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["audit-verify"])
    assert result.exit_code == 0
    assert "audit chain intact" in result.output


# ---------------------------------------------------------------- the installation's secret, the mode

GOOD_SECRET = "q9V-4hT2mX7bKc8LwR1nZp5sJd3YfGa6Ue0o"
GOOD_PASSPHRASE = "k3Rw-9sLx2Qv7mTb"


def _motcua(var: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess (what an operator sees), with only the given MOTCUA_ variables."""
    from tests.integration.server import motcua_command

    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    return subprocess.run(
        [*motcua_command(), *args],
        env=clean | {"MOTCUA_VAR_DIR": str(var)} | env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_init_writes_a_random_secret_of_the_installation_and_says_the_mode(var_env: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["init", "--no-demo"])
    assert first.exit_code == 0, first.output
    assert "development mode" in first.output and str(var_env / "secret_key") in first.output
    secret = (var_env / "secret_key").read_text().strip()
    assert len(secret) >= 64 and (var_env / "secret_key").stat().st_mode & 0o777 == 0o600
    assert runner.invoke(app, ["init", "--no-demo"]).exit_code == 0
    assert (var_env / "secret_key").read_text().strip() == secret  # kept: sessions and links stay valid


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "MOTCUA_SECRET_KEY is not set and there is no"),
        ({"MOTCUA_SECRET_KEY": "too-short-a-secret"}, "MOTCUA_SECRET_KEY is shorter than 32 characters"),
        (
            {"MOTCUA_SECRET_KEY": "motcua-development-secret-change-me"},
            "MOTCUA_SECRET_KEY is a value published with Motcua's source code",
        ),
        (
            {"MOTCUA_SECRET_KEY": GOOD_SECRET, "MOTCUA_KEY_PASSPHRASE": "motcua-development-only"},
            "MOTCUA_KEY_PASSPHRASE is a value published",
        ),
    ],
    ids=["missing", "short", "published", "published passphrase"],
)
def test_a_production_start_refuses_an_unsafe_secret_with_a_message(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    var = tmp_path / "var"
    production = {"MOTCUA_ENV": "production", "MOTCUA_KEY_PASSPHRASE": GOOD_PASSPHRASE} | env
    done = _motcua(var, "serve", **production)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "settings refused" in done.stderr and message in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (var / "secret_key").exists() and not (var / "motcua.sqlite3").exists()  # nothing started


def test_production_init_writes_the_secret_the_start_then_accepts(tmp_path: Path) -> None:
    var = tmp_path / "var"
    production = {"MOTCUA_ENV": "production", "MOTCUA_KEY_PASSPHRASE": GOOD_PASSPHRASE}
    done = _motcua(var, "init", **production)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "production mode" in done.stdout and "demo users" not in done.stdout
    assert (var / "secret_key").stat().st_mode & 0o777 == 0o600
    listed = _motcua(var, "users", "list", "--json", **production)
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stderr
