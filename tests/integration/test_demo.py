"""`motcua demo` drives dossiers over HTTP on the simulated clock and leaves verifiable signed results."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dossiers.clock import SimulatedClock
from dossiers.codes import format_dossier_code
from motcua.app import DEMO_CLOCK_START
from motcua.cli import app
from signing.pki import DevelopmentPki
from signing.validate import PadesValidator
from tests.conftest import forget_operaton_instances
from tests.integration.operaton import OperatonServer
from workflows import BPMN_DIR
from workflows.operaton.engine import OperatonEngine

pytestmark = pytest.mark.integration

DEMO_UNIT = "000.00.31.H99"  # the commune whose reception desk (tiepnhan.xa1) registers the demo's dossiers
HOUSEHOLD_BUSINESS = "household_business_registration"


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


def test_a_fresh_demo_on_a_running_operaton_resolves_every_dossier(
    operaton_server: OperatonServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every fresh demo begins on the same simulated morning and numbers its dossiers from 0001, so it hands out
    the codes of the demo before it, whose processes an Operaton kept running (``make operaton``) still holds.
    Operaton's start by business key returned such an old, ended process for the new dossier, which then stayed
    "received" for good (6 of 8 dossiers of two demo runs were left in progress). The demo now deletes the
    processes of dossiers its state does not hold before its workers start; every dossier ends resolved."""
    forget_operaton_instances(operaton_server)  # other tests' processes
    first_day = DEMO_CLOCK_START.date()  # a Monday; a small demo registers one dossier a day
    earlier = [format_dossier_code(DEMO_UNIT, first_day + dt.timedelta(days=n), 1) for n in (0, 1)]
    engine = OperatonEngine(
        operaton_server.url,
        operaton_server.user,
        operaton_server.password,
        SimulatedClock(DEMO_CLOCK_START),
        [BPMN_DIR],
    )
    with contextlib.closing(engine):
        engine.deploy()
        for code in earlier:  # what the earlier demo left: its dossiers' processes, ended
            instance_id = engine.start(HOUSEHOLD_BUSINESS, code, {"dossier_code": code})
            engine.request("DELETE", f"/process-instance/{instance_id}", params={"skipCustomListeners": "true"})
            instance = engine.instance(code)
            assert instance is not None and instance.state != "running"

    monkeypatch.setenv("MOTCUA_ENGINE", "operaton")
    monkeypatch.setenv("MOTCUA_OPERATON_URL", operaton_server.url)
    monkeypatch.setenv("MOTCUA_OPERATON_USER", operaton_server.user)
    monkeypatch.setenv("MOTCUA_OPERATON_PASSWORD", operaton_server.password)
    result = CliRunner().invoke(app, ["demo", "--dossiers", "4", "--var-dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert _figure(out, "received") == 4
    returned = int(re.search(r"returned (\d+)", out).group(1))  # type: ignore[union-attr]
    refused = int(re.search(r"refused (\d+)", out).group(1))  # type: ignore[union-attr]
    assert returned + refused == _figure(out, "resolved") == 4, out
    assert _figure(out, "in progress") == 0, out
    assert _figure(out, "signed results") == returned
    assert "deleted from Operaton the processes of 2 dossiers this demo state does not hold" in out
