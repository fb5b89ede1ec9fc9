"""The production compose file keeps its shape: dependencies resolve, services report health, the app
runs on Operaton, nothing but the API is published, and no secret has a default value."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

DEPENDENCY_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|ROOT_USER|_KEY$", re.IGNORECASE)
REQUIRED_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):\?[^}]*\}")
URL_CREDENTIALS = re.compile(r"://(?P<user>\$\{[^}]*\}|[^:/@\s]+):(?P<password>\$\{[^}]*\}|[^/@\s]+)@")
DUMMY_ENV = {
    "POSTGRES_PASSWORD": "dummy-postgres-password",
    "MINIO_ROOT_USER": "dummy-minio-user",
    "MINIO_ROOT_PASSWORD": "dummy-minio-password",
    "MOTCUA_SECRET_KEY": "dummy-secret-key",
    "MOTCUA_KEY_PASSPHRASE": "dummy-key-passphrase",
    "OPERATON_ADMIN_USER": "dummyadmin",
    "OPERATON_ADMIN_PASSWORD": "dummy-operaton-password",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def dependencies(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (dotted path, string value) in the document, keys included in the path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def test_expected_services(services: dict[str, dict[str, Any]]) -> None:
    assert {"postgres", "minio", "operaton", "migrate", "api", "worker"} <= services.keys()
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["minio"]["image"].startswith("minio/minio:")
    assert services["operaton"]["build"] in ("./deploy/operaton", {"context": "./deploy/operaton"})
    for name in ("migrate", "api", "worker"):
        assert services[name]["build"] in (".", "./", {"context": "."}), name
    assert (ROOT / "Dockerfile").is_file()
    assert (ROOT / "deploy" / "operaton").is_dir()


def test_commands(services: dict[str, dict[str, Any]]) -> None:
    def command(name: str) -> list[str]:
        cmd = services[name]["command"]
        return cmd.split() if isinstance(cmd, str) else list(cmd)

    assert command("migrate")[:2] == ["motcua", "init"]
    assert command("api") == ["motcua", "serve"]
    assert command("worker")[:2] == ["motcua", "worker"]
    assert services["worker"]["deploy"]["replicas"] == 2


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    """A fixed version per image: an upgrade is a reviewed change, not whatever ``latest`` is that day."""
    for name, service in services.items():
        if "image" not in service:
            continue
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and "/" not in tag, f"{name}: {image} is not pinned"
        assert re.search(r"\d", tag), f"{name}: {image} has no version in its tag"
    assert re.fullmatch(r"minio/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", services["minio"]["image"])


def test_the_app_image_carries_every_package(services: dict[str, dict[str, Any]]) -> None:
    """Every package pyproject installs is copied into the image (a missing one fails only at run time)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, flags=re.MULTILINE))
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"


def test_dependencies_exist_and_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dep, condition in dependencies(service).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert condition in DEPENDENCY_CONDITIONS, f"{name} -> {dep}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy: no healthcheck"
    assert dependencies(services["operaton"]) == {"postgres": "service_healthy"}
    assert dependencies(services["migrate"]).get("postgres") == "service_healthy"
    expected = {
        "migrate": "service_completed_successfully",
        "operaton": "service_healthy",
        "minio": "service_healthy",
    }
    for name in ("api", "worker"):
        assert expected.items() <= dependencies(services[name]).items(), name


@pytest.mark.parametrize("name", ["postgres", "minio", "operaton"])
def test_healthchecks(services: dict[str, dict[str, Any]], name: str) -> None:
    check = services[name].get("healthcheck")
    assert check and check.get("test"), f"{name} has no healthcheck"
    test = " ".join(check["test"]) if isinstance(check["test"], list) else check["test"]
    marker = {"postgres": "pg_isready", "minio": "ready", "operaton": "/engine-rest/engine"}[name]
    assert marker in test


def test_app_runs_on_operaton_postgres_and_s3(services: dict[str, dict[str, Any]]) -> None:
    for name in ("migrate", "api", "worker"):
        env = environment(services[name])
        assert env["MOTCUA_ENGINE"] == "operaton", name
        assert env["MOTCUA_OPERATON_URL"] == "http://operaton:8080/engine-rest", name
        assert env["MOTCUA_DATABASE_URL"].startswith("postgresql+psycopg://motcua:"), name
        assert env["MOTCUA_DATABASE_URL"].endswith("@postgres:5432/motcua"), name
        assert env["MOTCUA_STORAGE_URL"].startswith("s3://"), name
        assert "@minio:9000/motcua" in env["MOTCUA_STORAGE_URL"], name


def test_only_the_api_is_published(services: dict[str, dict[str, Any]]) -> None:
    assert [str(p) for p in services["api"]["ports"]] == ["8000:8000"]
    assert environment(services["api"]).get("MOTCUA_PORT", "8000") == "8000"
    for name, service in services.items():
        if name != "api":
            assert "ports" not in service, f"{name} should stay on the internal network"


def test_no_default_secrets(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    checked = 0
    for name, service in services.items():
        for key, value in environment(service).items():
            if SECRET_KEY.search(key):
                assert REQUIRED_VAR.fullmatch(value), f"{name}.{key} must be ${{VAR:?message}}, got {value!r}"
                checked += 1
    for path, value in strings(compose):
        for match in URL_CREDENTIALS.finditer(value):
            for part in ("user", "password"):
                if part == "user" and not match.group("user").startswith("$"):
                    continue  # a fixed user name (motcua) is not a secret
                assert REQUIRED_VAR.fullmatch(match.group(part)), f"{path}: URL {part} must be ${{VAR:?…}}"
            checked += 1
        # A secret variable may never fall back to a default (${VAR:-x} or ${VAR-x}).
        for var in re.finditer(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+=])?", value):
            if SECRET_KEY.search(var.group("name")):
                assert var.group("op") in (":?",), f"{path}: ${{{var.group('name')}}} needs :? (no default)"
    assert checked >= 10  # the seven secret variables and the credentials in the URLs


def test_required_variables_are_the_documented_secrets(compose: dict[str, Any]) -> None:
    required = {m.group("name") for _, value in strings(compose) for m in REQUIRED_VAR.finditer(value)}
    assert required == set(DUMMY_ENV)
