"""Migrations match the models; `motcua init` is idempotent; `motcua users add|list` make working accounts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from motcua.cli import app
from motcua.db import make_engine, metadata
from motcua.migrate import upgrade

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
