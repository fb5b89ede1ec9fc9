"""A procedure that leaves the catalogue: its file removed, or its code corrected (the household business registration
was shipped as 2.000575, the national code of the *re-issue* of its certificate; it is 1.001612 now). An installation
seeded before keeps the old row — its dossiers point at it — and ``motcua init`` marks it withdrawn: from then on it
is not offered (the API's list, the public catalogue, intake refused with a Vietnamese message), while a dossier
received under it still opens, shows under it and runs through its tasks to the signed result."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from dossiers.calendar import VN_TZ
from dossiers.catalogue import parse_entry
from motcua.app import Runtime, init_state
from motcua.settings import Settings
from persistence import reference_data
from persistence.schema import procedure
from persistence.uow import transaction
from services.catalogue import read_catalogue
from tests.conftest import HOUSEHOLD_BUSINESS, HOUSEHOLD_DETAILS, Api
from tests.pdftools import pdftotext

pytestmark = pytest.mark.integration

LEGACY = "2.000575"  # the code the household business registration had before the correction
GONE = "9.000777"  # a procedure whose file an agency removed: nothing replaces it


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """The installation on SQLite, then on the suite's PostgreSQL (a fresh database, dropped afterwards)."""
    base = Settings(var_dir=tmp_path / "var", max_upload_mb=2, demo_clock=True)
    if request.param == "sqlite":
        yield base
        return
    cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.fresh_database()
    try:
        yield base.model_copy(update={"database_url": url})
    finally:
        cluster.drop_database(url.rsplit("/", 1)[1])


def _stored(runtime: Runtime, code: str) -> dict[str, Any]:
    with transaction(runtime.db) as conn:
        return dict(conn.execute(select(procedure.c.data).where(procedure.c.code == code)).scalar_one())


def _seed_old_row(runtime: Runtime, code: str, template: str) -> None:
    """The row an earlier catalogue left: the household business entry as it was stored under ``code``."""
    data = _stored(runtime, HOUSEHOLD_BUSINESS)
    data.pop("replaces")
    data |= {"code": code, "result": {"template": template}}
    with transaction(runtime.db) as conn:
        conn.execute(
            insert(procedure).values(
                code=code,
                name=data["name"],
                process_key=data["process_key"],
                time_limit_days=3,
                working_days=True,
                data=data,
            )
        )


def _received(api: Api, code: str) -> str:
    r = api.submit(procedure=code, details=json.dumps(HOUSEHOLD_DETAILS, ensure_ascii=False))
    assert r.status_code == 201, r.text
    api.work()  # accept, receipt: the review task opens
    return str(r.json()["code"])


def _offered(api: Api) -> set[str]:
    r = api.client.get("/api/procedures")
    assert r.status_code == 200, r.text
    return {p["code"] for p in r.json()}


def _result_text(api: Api, dossier: str, tmp_path: Path) -> str:
    view = api.get(f"/api/dossiers/{dossier}", "tiepnhan.xa1").json()
    [doc] = [d for d in view["documents"] if d["kind"] == "result"]
    r = api.get(f"/api/dossiers/{dossier}/documents/{doc['id']}", "tiepnhan.xa1")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text
    return " ".join(pdftotext(r.content, tmp_path).split())


def test_a_corrected_code_is_no_longer_offered_and_its_dossiers_go_on(api: Api, tmp_path: Path) -> None:
    runtime = api.runtime
    _seed_old_row(runtime, LEGACY, f"{LEGACY}.json")  # a template file that is no longer shipped
    assert LEGACY in _offered(api)  # before the upgrade's init: offered as it was
    dossier = _received(api, LEGACY)

    report = init_state(runtime.settings)  # `motcua init` after the upgrade

    assert report["withdrawn"] == [LEGACY]
    stored = _stored(runtime, LEGACY)
    day = runtime.clock.now().astimezone(VN_TZ).date()
    assert dt.date.fromisoformat(stored["withdrawn_on"]) <= day
    assert stored["replaced_by"] == HOUSEHOLD_BUSINESS
    assert stored["result"] == {"template": f"{HOUSEHOLD_BUSINESS}.json"}  # its dossiers end with today's template

    # not offered: the API's list, the public catalogue, the desk's list of procedures, intake
    offered = _offered(api)
    assert LEGACY not in offered and HOUSEHOLD_BUSINESS in offered
    assert LEGACY not in {p.code for p in runtime.shop.procedures()}
    public = api.client.get("/thu-tuc")
    assert public.status_code == 200 and f"/thu-tuc/{LEGACY}" not in public.text
    assert f"/thu-tuc/{HOUSEHOLD_BUSINESS}" in public.text
    refused = api.submit(procedure=LEGACY, details=json.dumps(HOUSEHOLD_DETAILS, ensure_ascii=False))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert f"Thủ tục {LEGACY} (Đăng ký thành lập hộ kinh doanh) không còn trong danh mục thủ tục" in problem["title"]
    assert f"Hãy nộp hồ sơ theo thủ tục {HOUSEHOLD_BUSINESS}." in problem["title"]

    # its dossier still opens under it, its tasks run and it ends with the signed certificate
    view = api.get(f"/api/dossiers/{dossier}", "chuyenvien1.xa1")
    assert view.status_code == 200, view.text
    assert view.json()["procedure_code"] == LEGACY
    api.resolve(dossier)
    assert api.get(f"/api/dossiers/{dossier}", "chuyenvien1.xa1").json()["status"] == "returned"
    certificate = _result_text(api, dossier, tmp_path)
    assert "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH" in certificate, certificate
    assert "TẠP HÓA BÌNH AN" in certificate and "Bán lẻ lương thực, thực phẩm" in certificate, certificate

    # the tracking register still names the procedure of the dossier
    assert runtime.shop.procedure_names()[LEGACY] == "Đăng ký thành lập hộ kinh doanh"

    # seeding again keeps the first day it was withdrawn
    entries, _ = read_catalogue([Path(__file__).resolve().parents[2] / "motcua" / "data" / "procedures"])
    with transaction(runtime.db) as conn:
        assert reference_data.withdraw_procedures(conn, entries, day + dt.timedelta(days=30)) == []
    assert _stored(runtime, LEGACY) == stored


def test_a_removed_procedure_is_refused_without_a_replacement_and_keeps_its_history(api: Api) -> None:
    runtime = api.runtime
    _seed_old_row(runtime, GONE, f"{HOUSEHOLD_BUSINESS}.json")
    dossier = _received(api, GONE)

    assert init_state(runtime.settings)["withdrawn"] == [GONE]

    stored = _stored(runtime, GONE)
    assert "replaced_by" not in stored and stored["result"] == {"template": f"{HOUSEHOLD_BUSINESS}.json"}
    assert GONE not in _offered(api)
    refused = api.submit(procedure=GONE, details=json.dumps(HOUSEHOLD_DETAILS, ensure_ascii=False))
    assert refused.status_code == 422, refused.text
    title = refused.json()["title"]
    assert f"Thủ tục {GONE}" in title and "không tiếp nhận hồ sơ mới" in title and "Hãy nộp" not in title
    # the day before it left, the catalogue still showed it (a dossier of that day is handled under that version)
    before = dt.date.fromisoformat(stored["withdrawn_on"]) - dt.timedelta(days=1)
    assert GONE in {p["code"] for p in api.client.get("/api/procedures", params={"on": before.isoformat()}).json()}
    # its dossier's review task is still there and still completes
    r = api.decide("chuyenvien1.xa1", dossier, "approve", "Hồ sơ hợp lệ")
    assert r.status_code == 200, r.text
    assert api.task_for("lanhdao.xa1", dossier)["dossier_code"] == dossier

    # its file comes back (an init run without the agency's catalogue directory, then with it): offered again
    back = {k: v for k, v in stored.items() if k != "withdrawn_on"}
    with transaction(runtime.db) as conn:
        assert reference_data.save_procedures(conn, [(None, back, parse_entry(back))]) == [GONE]
    assert GONE in _offered(api)
