"""A first run that shows the product: `motcua init` leaves sample dossiers in several states on the demo people's
lists (once), and `motcua demo` signs results that the check it suggests passes, whatever the date."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from dossiers.clock import SystemClock
from motcua.app import DEMO_CLOCK_START, Runtime, build_runtime, init_state, make_clock
from motcua.cli import app
from motcua.samples import read_samples
from motcua.settings import Settings
from persistence.uow import make_engine
from signing.pki import DevelopmentPki
from signing.validate import PadesValidator
from tests.web import logged_in

pytestmark = pytest.mark.integration

SPECIALIST, LEADER, CLERK, RECEPTION, CITIZEN = (
    "chuyenvien1.xa1",
    "lanhdao.xa1",
    "vanthu.xa1",
    "tiepnhan.xa1",
    "congdan1",
)


@pytest.fixture
def var_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh installation on the real clock, as `make run` makes it."""
    for name in ("MOTCUA_DEMO_CLOCK", "MOTCUA_DATABASE_URL", "MOTCUA_STORAGE_URL", "MOTCUA_ENGINE", "MOTCUA_ENV"):
        monkeypatch.delenv(name, raising=False)
    var = tmp_path / "var"
    monkeypatch.setenv("MOTCUA_VAR_DIR", str(var))
    monkeypatch.chdir(tmp_path)
    return var


@pytest.fixture
def first_run(var_env: Path) -> Iterator[tuple[str, Runtime]]:
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    runtime = build_runtime(Settings())
    yield result.output, runtime
    runtime.close()


def _dossiers_recorded(runtime: Runtime) -> list[str]:
    return sorted(
        {
            str(e.event.dossier_code)
            for e in runtime.audit.all()
            if e.event.kind in ("dossier.received", "dossier.submitted")
        }
    )


def test_a_first_init_leaves_dossiers_on_every_demo_persons_list(first_run: tuple[str, Runtime]) -> None:
    output, runtime = first_run
    samples = read_samples(runtime.settings)
    assert "hồ sơ mẫu / sample dossiers" in output
    states = {s["state"] for s in samples}
    assert {
        "waiting_for_reception",
        "in_review",
        "late",
        "waiting_for_approval",
        "waiting_for_signature",
        "waiting_for_number",
        "ready_for_return",
        "returned",
    } <= states
    by_state = {s["state"]: s["code"] for s in samples}
    for sample in samples:
        assert sample["code"] in output

    now = SystemClock().now()
    tasks = {u: runtime.tasks.tasks_for(runtime.accounts.get(u)) for u in (SPECIALIST, LEADER, CLERK, RECEPTION)}
    steps = {u: {(t["dossier_code"], t["activity_id"]) for t in found} for u, found in tasks.items()}
    assert (by_state["in_review"], "review") in steps[SPECIALIST]
    assert (by_state["late"], "review") in steps[SPECIALIST]
    assert (by_state["waiting_for_approval"], "approve") in steps[LEADER]
    assert (by_state["waiting_for_signature"], "sign_result") in steps[LEADER]
    assert (by_state["waiting_for_number"], "register_number") in steps[CLERK]
    assert (by_state["ready_for_return"], "return_result") in steps[RECEPTION]
    late = runtime.shop.dossier_view(by_state["late"])
    assert late["status"] == "in_progress" and dt.datetime.fromisoformat(late["due_at"]) < now
    queue = [row.code for row in runtime.reception.queue(runtime.accounts.get(RECEPTION))]
    waiting = [s["code"] for s in samples if s["state"] == "waiting_for_reception"]
    assert waiting and set(waiting) <= set(queue)
    signing = runtime.signatures.pending_for(runtime.accounts.get(LEADER))
    assert [p.dossier_code for p in signing] == [by_state["waiting_for_signature"]]

    # the returned one: the citizen's, with a result carrying the leader's signature and the agency's seal
    returned = runtime.shop.read_dossier(runtime.accounts.get(CITIZEN), by_state["returned"])
    assert returned["status"] == "returned"
    assert dt.datetime.fromisoformat(returned["finished_at"]) <= dt.datetime.fromisoformat(returned["due_at"])
    result = next(d for d in returned["documents"] if d["kind"] == "result")
    _, chunks = runtime.shop.open_document(runtime.accounts.get(CITIZEN), by_state["returned"], result["id"])
    report = PadesValidator(runtime.pki.trust_roots()).validate(b"".join(chunks))
    assert report.passed, report
    assert len(report.signatures) == 2

    # the pages the demo people open first show them
    pages = SimpleNamespace(runtime=runtime)
    for username, home, code in (
        (SPECIALIST, "/can-bo/nhiem-vu", by_state["late"]),
        (LEADER, "/can-bo/nhiem-vu", by_state["waiting_for_signature"]),
        (CLERK, "/can-bo/nhiem-vu", by_state["waiting_for_number"]),
        (RECEPTION, "/mot-cua", by_state["waiting_for_reception"]),
        (CITIZEN, "/cong-dan", by_state["returned"]),
    ):
        page = logged_in(pages, username).get(home)
        assert page.status_code == 200, (username, page.text[:500])
        assert code in page.text, (username, home)
    assert runtime.audit.verify() is None  # the replayed week and today's steps keep the chain intact


def test_a_second_init_adds_no_sample(first_run: tuple[str, Runtime]) -> None:
    _, runtime = first_run
    before = _dossiers_recorded(runtime)
    assert len(before) == len(read_samples(runtime.settings))
    again = CliRunner().invoke(app, ["init"])
    assert again.exit_code == 0, again.output
    assert "sample dossiers: unchanged" in again.output
    assert _dossiers_recorded(runtime) == before


@pytest.mark.parametrize(
    ("args", "demo_clock"),
    [(["init", "--no-samples"], None), (["init"], "true")],  # the demo and the tests' servers bring their own
)
def test_no_samples_when_asked_not_to_or_on_a_simulated_clock(
    var_env: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], demo_clock: str | None
) -> None:
    if demo_clock:
        monkeypatch.setenv("MOTCUA_DEMO_CLOCK", demo_clock)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "sample dossiers" not in result.output
    runtime = build_runtime(Settings())
    try:
        assert _dossiers_recorded(runtime) == []
        assert read_samples(runtime.settings) == []
    finally:
        runtime.close()


# ---------------------------------------------------------------------- the demo and its certificates


def test_demo_certificates_hold_at_the_simulated_start_and_now(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "demo", demo_clock=True)
    init_state(settings)
    db = make_engine(settings.resolved_database_url)
    try:
        start = make_clock(settings, db).now()
    finally:
        db.dispose()
    assert start == DEMO_CLOCK_START  # a fresh demo state: the simulation begins where it always did
    pki = DevelopmentPki(settings.pki_dir)
    now = SystemClock().now()
    for key_id in ("person:lanhdao.xa1", "agency:000.00.31.H99"):
        for cert in pki.chain_for(key_id):
            assert cert.not_valid_before_utc <= min(start, now), (key_id, cert.subject)
            assert cert.not_valid_after_utc > max(start, now) + dt.timedelta(days=365), (key_id, cert.subject)


def test_certificates_hold_on_both_clocks_whichever_comes_first(tmp_path: Path) -> None:
    simulated = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
    for real in (dt.datetime(2025, 6, 1, tzinfo=dt.UTC), dt.datetime(2033, 6, 1, tzinfo=dt.UTC)):
        pki = DevelopmentPki(tmp_path / real.isoformat()[:4])
        pki.ensure([("000.00.31.H99", "Ủy ban nhân dân xã Hòa An")], [], simulated, also_valid_at=real)
        for cert in pki.chain_for("agency:000.00.31.H99"):
            assert cert.not_valid_before_utc <= min(simulated, real)
            assert cert.not_valid_after_utc > max(simulated, real)


def test_a_simulated_clock_does_not_start_before_certificates_issued_on_the_real_clock(var_env: Path) -> None:
    """`make run` issues the development certificates today; a demo server on that state (MOTCUA_DEMO_CLOCK=true,
    `motcua demo --url`) started on 2 March 2026 and refused every leader signature as "not valid yet"."""
    assert CliRunner().invoke(app, ["init", "--no-samples"]).exit_code == 0
    settings = Settings(demo_clock=True)
    db = make_engine(settings.resolved_database_url)
    try:
        start = make_clock(settings, db).now()
    finally:
        db.dispose()
    leader = DevelopmentPki(settings.pki_dir).certificate("person:lanhdao.xa1")
    assert start >= leader.not_valid_before_utc
    assert start <= SystemClock().now()


def test_the_demo_signs_results_and_the_check_it_suggests_passes(
    var_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the project root after `make run`: `motcua demo`, then the command it prints at the end."""
    assert CliRunner().invoke(app, ["init", "--no-samples"]).exit_code == 0
    result = CliRunner().invoke(app, ["demo", "--dossiers", "3"])
    assert result.exit_code == 0, result.output
    signed = int(re.search(r"signed results: (\d+)", result.output).group(1))  # type: ignore[union-attr]
    assert signed >= 1, result.output
    check = re.search(r"check a signature: (.+)", result.output)
    assert check, result.output
    words = shlex.split(check.group(1))
    assert words[0].startswith("MOTCUA_VAR_DIR=") and Path(words[1]).name == "motcua" and words[2] == "verify", words
    assert Path(words[3]).is_file() and not Path(words[3]).is_absolute()
    monkeypatch.setenv("MOTCUA_VAR_DIR", words[0].removeprefix("MOTCUA_VAR_DIR="))
    verified = CliRunner().invoke(app, ["verify", words[3]])
    assert verified.exit_code == 0, verified.output
    assert "TOTAL-PASSED" in verified.output
