"""Bounded input everywhere (issue 14, point 4): a ~1 MB name, a 10**400 capital, a 100,000-deep JSON body,
control and bidi characters — each refused with a 422 ``application/problem+json`` (or the page's form with the
message next to the input) naming the field, nothing stored; and heavy work on user input (parsing uploads,
rendering forms) never holds the event loop, renders within a time limit."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dossiers.calendar import VN_TZ
from dossiers.text_rules import COMMENT_MAX, FORM_INTEGER_MAX, NAME_MAX
from persistence.schema import late_notice
from persistence.uow import transaction
from services.late import find_late_risks
from tests.conftest import HOUSEHOLD_DETAILS, Api
from tests.e2e.test_bad_input import assert_problem, snapshot
from tests.e2e.test_web_desk import FORM, application, inputs_of, register, scans, signed_in_as
from tests.web import csrf, log_in

MEGABYTE_NAME = "A" * 1_000_000  # under the multipart parser's 1 MiB part limit: it reaches the rules
DEEP = "[" * 100_000 + "]" * 100_000
WAIT = 30  # seconds a test waits for something that must happen (a guard against hanging, never asserted on)
HEALTH_WAIT = 10  # a health check answers in milliseconds; past this the loop was held (the old behaviour)


def details(**changes: Any) -> str:
    return json.dumps(HOUSEHOLD_DETAILS | changes, ensure_ascii=False)


def logged_in_snapshot(api: Api) -> dict[str, Any]:
    """The state a refused intake must leave as it is (after the login, which is audited)."""
    api.token("tiepnhan.xa1")
    return snapshot(api.runtime)


# ---------------------------------------------------------------- the applicant at the API


def test_a_megabyte_applicant_name_is_refused_naming_the_field_and_nothing_is_stored(api: Api) -> None:
    before = logged_in_snapshot(api)
    r = api.submit(applicant_name=MEGABYTE_NAME)
    assert r.status_code == 422, r.text[:300]  # (before the fix: 201, and the answer echoed the megabyte)
    body = assert_problem(r, 422, "applicant", title_parts=(f"tối đa {NAME_MAX} ký tự",))
    assert body["field"] == "applicant_name" and body["limit"] == NAME_MAX
    assert len(r.content) < 2000  # the answer does not echo the name
    assert snapshot(api.runtime) == before
    tasks = api.get("/api/tasks", "tiepnhan.xa1")
    assert tasks.status_code == 200 and "AAAAAAAA" not in tasks.text


def test_a_name_at_the_limit_is_registered_and_its_receipt_renders(api: Api) -> None:
    name = "Nguyễn Thị " + "Hòa" * ((NAME_MAX - 11) // 3)
    assert len(name) <= NAME_MAX
    r = api.submit(applicant_name=name)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    api.work()
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert view["applicant"]["name"] == name
    assert [d["kind"] for d in view["documents"]].count("receipt") == 1


def test_control_and_bidi_characters_in_the_name_are_refused(api: Api) -> None:
    before = logged_in_snapshot(api)
    for name, character in (("Nguyễn\u202eAn", "U+202E"), ("Nguyễn\u2066An", "U+2066"), ("Nguyễn\x00An", "U+0000")):
        body = assert_problem(api.submit(applicant_name=name), 422, character)
        assert body["field"] == "applicant_name" and body["character"] == character
    assert snapshot(api.runtime) == before


def test_id_numbers_in_other_scripts_and_long_phones_are_refused(api: Api) -> None:
    r = api.submit(applicant_id_number="٠٠١٠٩٠٠١٢٣٤٥")  # Arabic-Indic digits pass str.isdigit
    assert assert_problem(r, 422)["field"] == "applicant_id_number"
    r = api.submit(applicant_phone="0" * 100_000)
    assert assert_problem(r, 422)["field"] == "applicant_phone"


# ---------------------------------------------------------------- the application form (details)


def test_capital_outside_sane_bounds_is_refused_naming_the_item(api: Api) -> None:
    before = logged_in_snapshot(api)
    for capital in ("1" + "0" * 400, str(FORM_INTEGER_MAX + 1), "-5", "1e400", "NaN"):
        raw = details().replace('"capital_vnd": 100000000', f'"capital_vnd": {capital}')
        assert capital in raw
        body = assert_problem(api.submit(details=raw), 422, "capital_vnd")
        assert body["field"] == "details.capital_vnd", capital
        assert "Vốn kinh doanh (đồng)" in body["title"]
    assert snapshot(api.runtime) == before


def test_form_texts_lists_and_dates_are_bounded(api: Api) -> None:
    cases = {
        "business_name": "x" * 10_000,
        "business_lines": ["Bán lẻ"] * 1000,
        "owner_birth_date": "0001-01-01",
    }
    for key, value in cases.items():
        body = assert_problem(api.submit(details=details(**{key: value})), 422, key)
        assert body["field"] == f"details.{key}", body


def test_deeply_nested_details_are_refused_not_a_crash(api: Api) -> None:
    before = logged_in_snapshot(api)
    deep = "[" * 30_000 + "]" * 30_000  # within the size bound of the form's JSON: the depth is what is refused
    body = assert_problem(api.submit(details=deep), 422, "nested deeper")
    assert body["field"] == "details"
    assert snapshot(api.runtime) == before


# ---------------------------------------------------------------- JSON request bodies


def test_a_hundred_thousand_deep_json_body_is_a_422_naming_the_limit(api: Api) -> None:
    """FastAPI's own parser would recurse: a bare 400 "error parsing the body" before the guard, or worse."""
    for path in ("/api/auth/token", "/api/tasks/no-such-task/complete"):
        headers = {"content-type": "application/json"} | (api.auth("chuyenvien1.xa1") if "tasks" in path else {})
        body = assert_problem(api.client.post(path, content=DEEP, headers=headers), 422, "deeper than 32")
        assert body["field"] == "body" and body["limit"] == 32
    without_type = api.client.post("/api/auth/token", content=DEEP.encode())  # FastAPI parses it as JSON too
    assert assert_problem(without_type, 422)["field"] == "body"


def test_a_json_body_over_a_megabyte_is_refused_before_parsing(api: Api) -> None:
    huge = json.dumps({"username": "a", "password": "b" * (1024 * 1024)})
    r = api.client.post("/api/auth/token", content=huge, headers={"content-type": "application/json"})
    body = assert_problem(r, 422, "larger than")
    assert body["field"] == "body" and body["limit"] == 1024 * 1024


def test_json_bodies_within_bounds_reach_the_route(api: Api) -> None:
    r = api.client.post("/api/auth/token", json={"username": [[[[[]]]]], "password": "x"})
    assert assert_problem(r, 422)["code"] == "motcua.validation"  # the route's own validation answered
    assert api.token("chuyenvien1.xa1")


# ---------------------------------------------------------------- comments and reasons


def _claimed_task(api: Api) -> tuple[str, dict[str, Any]]:
    code = api.submit().json()["code"]
    api.work()
    task = api.task_for("chuyenvien1.xa1", code)
    assert api.post(f"/api/tasks/{task['id']}/claim", "chuyenvien1.xa1").status_code == 200
    return code, task


@pytest.mark.parametrize(
    ("comment", "character"), [("Thiếu\x1b[2J giấy tờ", "U+001B"), ("Đồng ý \u202etxet", "U+202E")]
)
def test_a_comment_with_control_or_bidi_characters_is_refused_and_the_task_stays_open(
    api: Api, comment: str, character: str
) -> None:
    code, task = _claimed_task(api)
    r = api.post(
        f"/api/tasks/{task['id']}/complete", "chuyenvien1.xa1", json={"decision": "approve", "comment": comment}
    )
    body = assert_problem(r, 422, character)
    assert body["field"] == "comment"
    assert api.task_for("chuyenvien1.xa1", code)["id"] == task["id"]
    ok = api.post(
        f"/api/tasks/{task['id']}/complete",
        "chuyenvien1.xa1",
        json={"decision": "approve", "comment": "Hồ sơ đủ.\nĐề nghị phê duyệt.\tHết."},
    )
    assert ok.status_code == 200, ok.text


def test_the_apology_reason_refuses_control_characters(api: Api) -> None:
    code, _ = _claimed_task(api)
    api.advance(days=2, hours=2)  # Wednesday 10:00: at risk of being late
    assert find_late_risks(api.runtime.db, api.runtime.engine, api.runtime.shop, api.runtime.clock.now()) == [code]
    with transaction(api.runtime.db) as conn:
        notice = conn.execute(select(late_notice).where(late_notice.c.dossier_code == code)).one()
    new_due = dt.datetime(2026, 3, 9, 17, 0, tzinfo=VN_TZ).isoformat()
    r = api.post(
        f"/api/late-notices/{notice.id}/issue",
        "chuyenvien1.xa1",
        json={"reason": "Chờ xác minh\x07\x08", "new_due_at": new_due},
    )
    assert assert_problem(r, 422, "U+0007")["field"] == "reason"
    with transaction(api.runtime.db) as conn:
        assert conn.execute(select(late_notice.c.status).where(late_notice.c.id == notice.id)).scalar_one() == "open"


def test_a_megabyte_comment_on_the_task_page_is_refused_on_the_form(api: Api) -> None:
    code = api.submit().json()["code"]
    api.work()
    task = api.task_for("chuyenvien1.xa1", code)["id"]
    client = signed_in_as(api, "chuyenvien1.xa1")
    data = {"csrf_token": csrf(client, "/can-bo/nhiem-vu"), "decision": "approve", "comment": "Dong y " * 90_000}
    r = client.post(f"/can-bo/nhiem-vu/{task}", data=data)
    assert r.status_code == 422, r.text[:300]  # (before the fix: cut to 2,000 characters silently, and accepted)
    assert f"Ý kiến xử lý quá dài (tối đa {COMMENT_MAX} ký tự)." in r.text
    assert len(r.content) < 100_000  # the refilled comment is not the megabyte
    assert api.task_for("chuyenvien1.xa1", code)["id"] == task


# ---------------------------------------------------------------- the desk's page form


def test_a_megabyte_name_on_the_desk_form_is_refused_next_to_its_input(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    before = snapshot(api.runtime)
    r = register(client, application(applicant_name=MEGABYTE_NAME), scans())
    assert r.status_code == 422, r.text[:300]
    assert f"Họ tên người nộp hồ sơ quá dài (tối đa {NAME_MAX} ký tự)." in r.text
    attrs = inputs_of(r.text).controls["applicant_name"]
    assert attrs.get("aria-invalid") == "true" and "applicant_name-error" in (attrs.get("aria-describedby") or "")
    assert len(r.content) < 100_000  # the page does not echo the megabyte back
    assert snapshot(api.runtime) == before


def test_hostile_values_on_the_desk_form_are_shown_on_the_form_not_a_500(api: Api) -> None:
    client = signed_in_as(api, "tiepnhan.xa1")
    before = snapshot(api.runtime)
    data = application(
        applicant_name="Nguyễn\u202eAn",
        **{"f.capital_vnd": "1" + "0" * 40, "f.employees": "²", "f.owner_birth_date": "31/12/1799"},
    )
    r = register(client, data, scans())
    assert r.status_code == 422, r.text
    controls = inputs_of(r.text).controls
    for control in ("applicant_name", "f-capital_vnd", "f-employees", "f-owner_birth_date"):
        assert controls[control].get("aria-invalid") == "true", control
    assert "ký tự điều khiển hướng văn bản (U+202E)" in r.text
    assert "Vốn kinh doanh (đồng)” phải là số nguyên từ 0 đến 1.000.000.000.000.000" in r.text
    assert f'maxlength="{NAME_MAX}"' in r.text
    assert snapshot(api.runtime) == before


# ---------------------------------------------------------------- heavy work off the event loop


@pytest.fixture
def one_loop(api: Api) -> Iterator[TestClient]:
    """A browser whose requests all run on one event loop (the ``with`` block keeps its portal): a request that
    blocked the loop would block every other one, as on a real server."""
    from api.app import asgi

    with TestClient(asgi(api.runtime), base_url="https://testserver", follow_redirects=False) as client:
        yield client


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def test_health_is_served_while_the_desk_checks_an_upload(
    api: Api, one_loop: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The desk's registration parses the scans (PDF) — that must happen in a thread, not on the event loop."""
    import api.web.desk as desk

    started, release = threading.Event(), threading.Event()
    real_check = desk.check_upload

    def slow_check(upload: Any) -> None:
        started.set()
        release.wait(WAIT)
        real_check(upload)

    monkeypatch.setattr(desk, "check_upload", slow_check)
    assert log_in(one_loop, "tiepnhan.xa1").status_code == 303
    token = csrf(one_loop, FORM)
    registering, registered = in_thread(
        lambda: one_loop.post(FORM, data=application() | {"csrf_token": token}, files=scans())
    )
    try:
        assert started.wait(WAIT)
        health, answered = in_thread(lambda: one_loop.get("/api/health"))
        health.join(HEALTH_WAIT)
        assert answered and answered[0].status_code == 200, "the event loop was blocked by the upload check"
        assert registering.is_alive()  # the registration was still in progress meanwhile
    finally:
        release.set()
        registering.join(WAIT)
    assert registered[0].status_code == 303, registered[0].text


def test_a_form_that_takes_too_long_to_render_is_a_503_and_the_server_stays_responsive(
    api: Api, one_loop: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.paperwork as paperwork

    code = api.submit().json()["code"]
    api.work()
    started, release = threading.Event(), threading.Event()
    real_render = paperwork.render_control_sheet

    def stuck_render(*args: Any, **kwargs: Any) -> bytes:
        started.set()
        release.wait(WAIT)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(paperwork, "render_control_sheet", stuck_render)
    monkeypatch.setattr(api.runtime.paperwork.issuer, "render_seconds", 0.5)
    headers = api.auth("tiepnhan.xa1")
    try:
        sheet, answer = in_thread(lambda: one_loop.get(f"/api/dossiers/{code}/control-sheet", headers=headers))
        assert started.wait(WAIT)
        health = one_loop.get("/api/health")  # while the render is stuck
        assert health.status_code == 200
        sheet.join(WAIT)
        body = assert_problem(answer[0], 503, "longer than the limit")
        assert body["what"] == "control_sheet" and body["limit_seconds"] == 0.5
    finally:
        release.set()
    kinds = [e["kind"] for e in api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()]
    assert "control_sheet.issued" not in kinds
