"""What a test does when a real service or tool it needs is not there (DESIGN §11).

Under CI=true the suite starts every service itself, so a missing one is a failure; on a developer's machine
the test is skipped with the reason. Every fixture that starts a service or needs a tool goes through here.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def service_missing(reason: str, *, module_level: bool = False) -> NoReturn:
    """Fail under CI=true (the service is required there), skip elsewhere."""
    if in_ci():
        pytest.fail(f"required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)
