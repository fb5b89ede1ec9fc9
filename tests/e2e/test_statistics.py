"""Statistics over HTTP: a known population of dossiers built on the simulated clock through the API, and
every QĐ 766 figure of the period checked exactly, grouped three ways, exported as CSV and XLSX; the
citizen's rating endpoint and who may read statistics."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Any

import pytest
from sqlalchemy import insert, update

from dossiers.calendar import VN_TZ
from persistence.schema import document, dossier, payment
from persistence.uow import transaction
from services.fees import is_paid
from tests.conftest import COMMUNE, HOUSEHOLD_BUSINESS, Api, minimal_pdf

CERTIFICATION = "2.000815"  # a same-day procedure; its result is the certified copy (electronic, signed)
JUSTICE = "tuphap.xa1"  # certified copies are the Tư pháp - Hộ tịch department's; household business the economic one's
PKT = f"{COMMUNE}-PKT"
TPHT = f"{COMMUNE}-TPHT"
ID_NUMBER = "001090012345"
WEEK = {"from": "2026-03-03", "to": "2026-03-06"}  # Tuesday … Friday, both included


@pytest.fixture
def sapi(api: Api) -> Api:
    """The API as built (api/app.py mounts the statistics)."""
    return api


def _now(api: Api) -> dt.datetime:
    return api.runtime.clock.now()


def _submit(api: Api, procedure: str = HOUSEHOLD_BUSINESS, **fields: str) -> str:
    files = (
        {"paper.ban_chinh": ("ban-chinh.pdf", minimal_pdf("ban chinh"), "application/pdf")}
        if procedure == CERTIFICATION
        else None
    )
    r = api.submit(procedure=procedure, files=files, **fields)
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def _resolve(api: Api, code: str, specialist: str, *, household: bool = True, hand_over: bool = True) -> None:
    """Review → approval → result signed on the leader's device, numbered and sealed → handed over (the
    certified copy's fee is paid in cash at the desk first)."""
    api.work()
    assert api.decide(specialist, code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    if hand_over and not household and not is_paid(api.runtime.db, api.runtime.shop, code):
        r = api.post(f"/api/dossiers/{code}/payments/cash", "tiepnhan.xa1", json={"receipt_number": f"BL-{code}"})
        assert r.status_code == 201, r.text
    if hand_over:
        assert api.decide("tiepnhan.xa1", code, None).status_code == 200
        api.work()  # dossier.close


def _finished(api: Api, code: str) -> dt.datetime:
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    return dt.datetime.fromisoformat(view["finished_at"]).astimezone(VN_TZ)


def _pay(api: Api, code: str, *, online: bool, status: str = "paid") -> None:
    now = _now(api)
    with transaction(api.runtime.db) as conn:
        conn.execute(
            insert(payment).values(
                id=str(uuid.uuid4()),
                dossier_code=code,
                amount_vnd=100000,
                method="gateway" if online else "cash",
                online=online,
                reference=f"REF-{code}",
                status=status,
                created_at=now,
                paid_at=now if status == "paid" else None,
                recorded_by="tiepnhan.xa1",
            )
        )


def _scan_copy(api: Api, code: str) -> None:
    """A paper digitised at the desk (metadata only: statistics read no bytes)."""
    with transaction(api.runtime.db) as conn:
        conn.execute(
            insert(document).values(
                id=str(uuid.uuid4()),
                dossier_code=code,
                kind="scan_copy",
                paper_key=None,
                filename="ban-sao-dien-tu.pdf",
                content_type="application/pdf",
                size=1,
                sha256="0" * 64,
                storage_key=f"{COMMUNE}/dossiers/{code}/scan_copy/test",
                created_by="tiepnhan.xa1",
                created_at=_now(api),
            )
        )


def _return_by_post(api: Api, code: str) -> None:
    with transaction(api.runtime.db) as conn:
        conn.execute(update(dossier).where(dossier.c.code == code).values(return_channel="postal"))


def _rate(api: Api, code: str, level: int, id_number: str = ID_NUMBER, **extra: Any) -> Any:
    body = {"id_number": id_number, "level": level} | extra
    return api.client.post(f"/api/public/dossiers/{code}/rating", json=body)


def _stats(api: Api, user: str = "lanhdao.xa1", **params: str) -> Any:
    r = api.get("/api/statistics", user, params=WEEK | params)
    assert r.status_code == 200, r.text
    return r.json()


def _counts(ind: dict[str, Any]) -> dict[str, Any]:
    counts = {k: v for k, v in ind.items() if k not in ("shares", "satisfaction")}
    counts["ratings"] = [ind["satisfaction"]["levels"][str(level)] for level in range(1, 6)]
    return counts


def _expected(**nonzero: Any) -> dict[str, Any]:
    names = [
        "carried_over",
        "received",
        "in_handling",
        "received_online",
        "received_counter",
        "received_postal",
        "resolved",
        "early",
        "on_time",
        "late",
        "refused",
        "withdrawn",
        "in_progress",
        "in_progress_within_due",
        "overdue",
        "returned_by_post",
        "paid",
        "paid_online",
        "digitised_inputs",
        "electronic_results",
    ]
    return {n: 0 for n in names} | {"ratings": [0, 0, 0, 0, 0]} | nonzero


def _build_population(api: Api) -> dict[str, str]:
    """Seven dossiers of the commune on the simulated clock (Monday 2 March 2026 08:00 onwards)."""
    d: dict[str, str] = {}
    # Monday 2 March: before the period
    d["d0"] = _submit(api, CERTIFICATION)  # resolved the same day, rated during the period
    _resolve(api, d["d0"], JUSTICE, household=False)
    d["d1"] = _submit(api)  # due Thursday 08:00; resolved Wednesday: early
    _pay(api, d["d1"], online=False)
    _scan_copy(api, d["d1"])
    d["d5"] = _submit(api)  # due Thursday 08:00; resolved Thursday 10:00: late; returned by post
    _pay(api, d["d5"], online=True, status="failed")
    _return_by_post(api, d["d5"])
    api.work()

    api.advance(days=1)  # Tuesday 3 March 08:00: the period starts
    d["d2"] = _submit(api, as_user="congdan1", agency_code=COMMUNE)  # online; due Friday 08:00; on time
    assert api.receive(d["d2"]).status_code == 200  # reception accepts it at once: received (and due) as filed
    _pay(api, d["d2"], online=True)
    d["d3"] = _submit(api, channel="postal")  # refused
    d["d4"] = _submit(api)  # due Friday 08:00; nobody touches it in the period: overdue at its end
    api.work()
    assert api.decide("chuyenvien1.xa1", d["d3"], "refuse", "Ngành nghề bị cấm").status_code == 200
    api.work()
    assert _rate(api, d["d0"], 5).status_code == 201

    api.advance(days=1)  # Wednesday 4 March 08:00
    d["d7"] = _submit(api, CERTIFICATION)  # same day, due 17:00: on time; scanned at the desk, paid cash
    _scan_copy(api, d["d7"])
    _pay(api, d["d7"], online=False)
    _resolve(api, d["d7"], JUSTICE, household=False)
    _resolve(api, d["d1"], "chuyenvien1.xa1")

    api.advance(days=1, hours=2)  # Thursday 5 March 10:00, two hours after d5's due moment
    _resolve(api, d["d5"], "chuyenvien1.xa1")

    api.advance(hours=21, minutes=30)  # Friday 6 March 07:30, before d2's due moment (08:00)
    _resolve(api, d["d2"], "chuyenvien1.xa1", hand_over=False)  # result ready, not yet handed over
    api.advance(minutes=30)
    d["d6"] = _submit(api)  # Friday 08:00, due next Wednesday: in progress within due
    api.work()

    for key, level in (("d1", 4), ("d5", 2), ("d2", 3)):
        assert _rate(api, d[key], level, comment="Cán bộ nhiệt tình").status_code == 201
    return d


def test_every_figure_of_a_known_population(sapi: Api) -> None:
    api = sapi
    d = _build_population(api)
    local = {k: _finished(api, c) for k, c in d.items() if k not in ("d4", "d6")}
    assert local["d0"].date() == dt.date(2026, 3, 2)
    assert local["d1"] == dt.datetime(2026, 3, 4, 8, 0, tzinfo=VN_TZ)
    assert local["d5"] == dt.datetime(2026, 3, 5, 10, 0, tzinfo=VN_TZ)
    assert local["d2"] == dt.datetime(2026, 3, 6, 7, 30, tzinfo=VN_TZ)
    api.advance(days=3)  # Monday 9 March: the period is over

    by_agency = _stats(api, group_by="agency")
    assert by_agency["period"] == {"start": "2026-03-03T00:00:00+07:00", "end_exclusive": "2026-03-07T00:00:00+07:00"}
    assert [(g["key"], g["name"]) for g in by_agency["groups"]] == [(COMMUNE, "Ủy ban nhân dân xã Hòa An")]
    total = by_agency["total"]
    assert _counts(total) == _expected(
        carried_over=2,  # d1, d5
        received=5,  # d2 online, d3 postal, d4, d7, d6
        in_handling=7,
        received_online=1,
        received_postal=1,
        received_counter=3,
        resolved=4,  # d1 early, d7 and d2 on time, d5 late (d3 refused is not a result)
        early=1,
        on_time=2,
        late=1,
        refused=1,
        in_progress=2,  # d4, d6
        in_progress_within_due=1,
        overdue=1,  # d4
        returned_by_post=1,  # d5
        paid=2,  # d2 online, d7 cash (d1 paid but was received before; d5's payment failed)
        paid_online=1,
        digitised_inputs=2,  # d2 online, d7 scanned
        electronic_results=4,  # the household certificates of d1, d5, d2 and d7's certified copy
        ratings=[0, 1, 1, 1, 1],  # d5: 2, d2: 3, d1: 4, d0: 5 (d0 resolved earlier, rated in the period)
    )
    assert by_agency["groups"][0]["indicators"] == total
    shares = {k: (v["numerator"], v["denominator"], v["percent"]) for k, v in total["shares"].items()}
    assert shares == {
        "early_or_on_time": (3, 4, 75.0),
        "early": (1, 4, 25.0),
        "on_time": (2, 4, 50.0),
        "late": (1, 4, 25.0),
        "overdue": (1, 2, 50.0),
        "online": (1, 5, 20.0),
        "postal_intake": (1, 5, 20.0),
        "postal_return": (1, 4, 25.0),
        "online_payment": (1, 2, 50.0),
        "digitised_inputs": (2, 5, 40.0),
        "electronic_results": (4, 4, 100.0),
        "satisfied": (2, 4, 50.0),
    }
    assert total["satisfaction"] | {"levels": None} == {
        "levels": None,
        "rated": 4,
        "satisfied": 2,
        "mean_level": 3.5,
    }

    by_department = {g["key"]: g for g in _stats(api, group_by="department")["groups"]}
    # household business is the economic department's (d1, d5, d2, d3), certified copies the justice one's (d0, d7)
    assert list(by_department) == [None, PKT, TPHT]
    assert by_department[PKT]["name"] == "Phòng Kinh tế"
    assert by_department[TPHT]["name"] == "Tư pháp - Hộ tịch"
    assert by_department[None]["name"] == "Chưa phân công"
    assert _counts(by_department[PKT]["indicators"]) == _expected(
        carried_over=2,
        received=2,
        in_handling=4,
        received_online=1,
        received_postal=1,
        resolved=3,
        early=1,
        on_time=1,
        late=1,
        refused=1,
        returned_by_post=1,
        paid=1,
        paid_online=1,
        digitised_inputs=1,
        electronic_results=3,
        ratings=[0, 1, 1, 1, 0],
    )
    assert _counts(by_department[TPHT]["indicators"]) == _expected(
        received=1,
        in_handling=1,
        received_counter=1,
        resolved=1,
        on_time=1,
        paid=1,
        digitised_inputs=1,
        electronic_results=1,
        ratings=[0, 0, 0, 0, 1],
    )
    assert _counts(by_department[None]["indicators"]) == _expected(
        received=2, in_handling=2, received_counter=2, in_progress=2, in_progress_within_due=1, overdue=1
    )

    by_procedure = {g["key"]: g["indicators"] for g in _stats(api, group_by="procedure")["groups"]}
    assert {k: (v["received"], v["resolved"], v["refused"], v["in_progress"]) for k, v in by_procedure.items()} == {
        HOUSEHOLD_BUSINESS: (4, 3, 1, 2),
        CERTIFICATION: (1, 1, 0, 0),
    }

    # the overdue dossier is resolved the next Monday, late; the next day's figures say so
    _resolve(api, d["d4"], "chuyenvien1.xa1")
    monday = _stats(api, **{"from": "2026-03-09", "to": "2026-03-09"})["total"]
    assert (monday["carried_over"], monday["received"], monday["resolved"], monday["late"]) == (2, 0, 1, 1)
    assert (monday["in_progress"], monday["overdue"]) == (1, 0)  # d6, due Wednesday 11 March

    # CSV for Excel: UTF-8 with BOM, Vietnamese headers, one row per department and the total
    r = api.get("/api/statistics/export", "thanhtra.tinh", params=WEEK | {"format": "csv", "group_by": "department"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "thong-ke-department-2026-03-03-2026-03-06.csv" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:4] == ["Mã phòng, ban", "Phòng, ban", "Kỳ trước chuyển sang", "Mới tiếp nhận"]
    table = {row[1]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert list(table) == ["Chưa phân công", "Phòng Kinh tế", "Tư pháp - Hộ tịch", "Tổng cộng"]
    assert table["Tổng cộng"]["Đã giải quyết"] == "4"
    assert table["Tổng cộng"]["Quá hạn"] == "1"
    assert table["Tổng cộng"]["Tỷ lệ trước hạn và đúng hạn (%)"] == "75.00"
    assert table["Phòng Kinh tế"]["Từ chối giải quyết"] == "1"
    assert table["Chưa phân công"]["Tỷ lệ hài lòng (%)"] == ""

    # XLSX: a title row, then the same table
    from openpyxl import load_workbook

    r = api.get("/api/statistics/export", "quantri.tinh", params=WEEK | {"format": "xlsx"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert "từ ngày 03/03/2026 đến ngày 06/03/2026" in str(values[0][0])
    xheader, xtotal = values[1], dict(zip(values[1], values[-1], strict=True))
    assert xheader[:2] == ["Mã cơ quan", "Cơ quan"]
    assert xtotal["Cơ quan"] == "Tổng cộng"
    assert (xtotal["Mới tiếp nhận"], xtotal["Trước hạn"], xtotal["Đúng hạn"], xtotal["Quá hạn"]) == (5, 1, 2, 1)
    assert xtotal["Tỷ lệ hồ sơ trực tuyến (%)"] == 20.0


def test_rating_rules(sapi: Api) -> None:
    api = sapi
    resolved = _submit(api, CERTIFICATION)
    _resolve(api, resolved, JUSTICE, household=False)
    open_one = _submit(api)
    refused = _submit(api)
    api.work()
    api.decide("chuyenvien1.xa1", refused, "refuse", "Không đủ điều kiện")
    api.work()

    wrong_id = _rate(api, resolved, 5, id_number="001090099999")
    assert wrong_id.status_code == 404
    assert wrong_id.headers["content-type"].startswith("application/problem+json")
    assert _rate(api, "000.00.31.H99-260302-9999", 5).status_code == 404
    for code in (open_one, refused):
        r = _rate(api, code, 5)
        assert r.status_code == 409, r.text
        assert "đã có kết quả" in r.json()["title"]
    assert _rate(api, resolved, 0).status_code == 422
    assert _rate(api, resolved, 6).status_code == 422
    r = _rate(api, resolved, 4, comment="Nhanh, đúng hẹn")
    assert r.status_code == 201, r.text
    assert r.json()["level"] == 4
    again = _rate(api, resolved, 5)
    assert again.status_code == 409
    assert "đã được đánh giá" in again.json()["title"]
    history = api.get(f"/api/dossiers/{resolved}/history", "thanhtra.tinh").json()
    assert [e["details"] for e in history if e["kind"] == "dossier.rated"] == [{"level": 4, "commented": True}]


def test_who_may_read_statistics(sapi: Api) -> None:
    api = sapi
    assert api.client.get("/api/statistics", params=WEEK).status_code == 401
    for user in ("tiepnhan.xa1", "chuyenvien1.xa1", "congdan1"):
        assert api.get("/api/statistics", user, params=WEEK).status_code == 403, user
    assert api.get("/api/statistics/export", "congdan1", params=WEEK).status_code == 403
    # a commune's leader reads their own commune only; auditors and admins read every agency
    assert api.get("/api/statistics", "lanhdao.xa1", params=WEEK | {"agency": COMMUNE}).status_code == 200
    other = api.get("/api/statistics", "lanhdao.xa1", params=WEEK | {"agency": "000.00.32.H99"})
    assert other.status_code == 403
    assert api.get("/api/statistics", "thanhtra.tinh", params=WEEK | {"agency": "000.00.32.H99"}).status_code == 200
    # bad parameters are clear errors
    backwards = api.get("/api/statistics", "quantri.tinh", params={"from": "2026-03-06", "to": "2026-03-03"})
    assert backwards.status_code == 422
    assert backwards.json()["title"] == "Ngày kết thúc không được trước ngày bắt đầu."
    assert api.get("/api/statistics", "quantri.tinh", params=WEEK | {"group_by": "person"}).status_code == 422
    assert api.get("/api/statistics", "quantri.tinh", params={"from": "2026-03-03"}).status_code == 422
    r = api.get("/api/statistics/export", "quantri.tinh", params=WEEK | {"format": "pdf"})
    assert r.status_code == 422
    empty = api.get("/api/statistics", "quantri.tinh", params=WEEK).json()
    assert empty["groups"] == [] and empty["total"]["received"] == 0
    assert empty["total"]["shares"]["online"] == {"numerator": 0, "denominator": 0, "percent": None}
