"""`motcua demo` drives dossiers over HTTP on the simulated clock and leaves verifiable signed results."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from motcua.cli import app
from signing.pki import DevelopmentPki
from signing.validate import PadesValidator

pytestmark = pytest.mark.integration


def _figure(output: str, label: str) -> int:
    match = re.search(rf"{label}:\s+(\d+)", output)
    assert match, (label, output)
    return int(match.group(1))


def test_demo_drives_a_mix_of_dossiers_and_reports_the_figures(tmp_path: Path) -> None:
    var = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--dossiers", "10", "--var-dir", str(var)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert _figure(out, "received") == 10
    returned = int(re.search(r"returned (\d+)", out).group(1))  # type: ignore[union-attr]
    refused = int(re.search(r"refused (\d+)", out).group(1))  # type: ignore[union-attr]
    assert returned + refused == _figure(out, "resolved") == 10
    assert refused >= 1
    assert _figure(out, "late") >= 1  # some dossiers are left lying until they are late
    assert _figure(out, "early") + _figure(out, "on time") + _figure(out, "late") == returned
    assert _figure(out, "signed results") == returned

    results = sorted(p for p in (var / "objects").rglob("*") if p.is_file() and "/result/" in str(p))
    assert len(results) == returned
    validator = PadesValidator(DevelopmentPki(var / "pki").trust_roots())
    for path in results:
        report = validator.validate(path.read_bytes())
        assert report.passed, (path, report)
        assert len(report.signatures) == 2

    # a second run continues after the first: new codes, the clock does not go back
    again = CliRunner().invoke(app, ["demo", "--dossiers", "3", "--var-dir", str(var)])
    assert again.exit_code == 0, again.output
    first_end = re.search(r"→ (\d{4}-\d\d-\d\d)", out).group(1)  # type: ignore[union-attr]
    second_start = re.search(r"demo: (\d{4}-\d\d-\d\d)", again.output).group(1)  # type: ignore[union-attr]
    assert second_start >= first_end
