"""``docker compose config`` accepts the production compose file (when the docker compose plugin is installed).
The file's shape is checked without Docker in tests/unit/test_compose.py."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.unit.test_compose import COMPOSE_FILE, DUMMY_ENV, ROOT

pytestmark = pytest.mark.integration


def _docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.mark.skipif(
    not _docker_compose_available(),
    reason="requires the docker compose plugin; the YAML checks of tests/unit/test_compose.py run everywhere "
    "(no Docker engine here)",
)
def test_docker_compose_config_accepts_the_file() -> None:
    env = {**os.environ, **DUMMY_ENV}
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
