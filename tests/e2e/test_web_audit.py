"""The auditor's desk in the browser: verifying an uploaded PDF (passed, tampered, not a PDF), a dossier's
trail with every document verified and the full report, the statistics dashboard with its SVG charts, table
and exports, who may see what, and that the desk changes nothing: an auditor is refused by every POST of
the officials' and administration pages."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.charts import BarGroup, bar_chart, donut_chart
from tests.conftest import Api
from tests.web import csrf, log_in

AUDITOR = "thanhtra.tinh"
ADMIN = "quantri.tinh"
XSS = '<script>alert("x")</script>'


def desk_app(api: Api) -> FastAPI:
    """The app as built (api/app.py mounts every page router)."""
    from api.app import create_app

    return create_app(api.runtime)


def all_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route, also those of included routers (FastAPI keeps an included router as one entry; the page
    routers are included without a prefix)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from all_routes(inner.routes)
        else:
            yield route


def desk_client(api: Api, username: str | None = None, app: FastAPI | None = None) -> TestClient:
    """A browser (HTTPS, no automatic redirects) on :func:`desk_app`, logged in as ``username``."""
    app = app or desk_app(api)
    client = TestClient(app.state.asgi, base_url="https://testserver", follow_redirects=False)
    if username:
        assert log_in(client, username).status_code == 303
    return client


def resolved_dossier(api: Api) -> str:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    api.work()
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    return code


def result_pdf(api: Api, code: str) -> tuple[dict[str, Any], bytes]:
    view = api.get(f"/api/dossiers/{code}", AUDITOR).json()
    [result] = [d for d in view["documents"] if d["kind"] == "result"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{result['id']}", AUDITOR).content
    return result, pdf


def audit_events(api: Api, kind: str) -> list[Any]:
    return [e.event for e in api.runtime.audit.all() if e.event.kind == kind]


def test_an_auditor_verifies_an_uploaded_pdf_and_reads_the_report(api: Api) -> None:
    code = resolved_dossier(api)
    _, pdf = result_pdf(api, code)
    client = desk_client(api, AUDITOR)
    desk = client.get("/thanh-tra")
    assert desk.status_code == 200
    assert 'enctype="multipart/form-data"' in desk.text and '<label for="verify-file">' in desk.text
    token = csrf(client, "/thanh-tra")

    ok = client.post(
        "/thanh-tra/kiem-tra", data={"csrf_token": token}, files={"file": ("kq.pdf", pdf, "application/pdf")}
    )
    assert ok.status_code == 200, ok.text
    page = ok.text
    assert "TOTAL-PASSED" in page and "ĐẠT" in page  # the ETSI code as the Vietnamese result's tooltip
    for term in ("Người ký", "Thời điểm ký", "Chuỗi chứng thư", "Tình trạng thu hồi", "Phạm vi ký",
                 "Thay đổi sau khi ký", "Kết quả tổng thể"):  # fmt: skip
        assert term in page, term
    for english in ("Signer", "Signing time", "Timestamp", "Certificate chain", "Revocation", "Coverage"):
        assert f'title="{english}"' in page and f"({english})" not in page, english  # a tooltip, not page text
    assert "leader_signature" in page and "agency_seal" in page
    assert '<th scope="row">' in page and "<caption" in page

    tampered = bytearray(pdf)
    tampered[bytes(pdf).index(b"/MediaBox") + 2] ^= 0x01
    bad = client.post(
        "/thanh-tra/kiem-tra",
        data={"csrf_token": token},
        files={"file": ("kq.pdf", bytes(tampered), "application/pdf")},
    )
    assert bad.status_code == 200 and "TOTAL-FAILED" in bad.text and "KHÔNG ĐẠT" in bad.text
    sub = re.search(r'Chỉ báo phụ.*?<strong title="([A-Z_]+)">([^<]+)</strong>', bad.text, re.S)
    assert sub, "the sub-indication is shown"
    assert sub[2] != sub[1] and not re.fullmatch(r"[A-Z_ ]+", sub[2]), sub.groups()  # in words, its code a tooltip

    junk = client.post(
        "/thanh-tra/kiem-tra", data={"csrf_token": token}, files={"file": ("x.pdf", b"not a pdf", "application/pdf")}
    )
    assert junk.status_code == 422 and 'class="error"' in junk.text

    unsigned = client.post(
        "/thanh-tra/kiem-tra",
        data={"csrf_token": token},
        files={"file": (f"{XSS}.pdf", api_minimal_pdf(), "application/pdf")},
    )
    assert unsigned.status_code == 200 and "INDETERMINATE" in unsigned.text and "NO_SIGNATURE" in unsigned.text
    assert XSS not in unsigned.text and "script_.pdf" in unsigned.text  # the file name is shown as a safe base name

    forged = client.post(
        "/thanh-tra/kiem-tra", data={"csrf_token": "0" * 40}, files={"file": ("kq.pdf", pdf, "application/pdf")}
    )
    assert forged.status_code == 403 and "CSRF" in forged.text
    verified = [e for e in audit_events(api, "signature.verified") if e.details.get("channel") == "browser"]
    assert [e.details["indication"] for e in verified] == ["TOTAL-PASSED", "TOTAL-FAILED", "INDETERMINATE"]
    assert {e.actor for e in verified} == {AUDITOR} and verified[0].dossier_code is None


def api_minimal_pdf() -> bytes:
    from tests.conftest import minimal_pdf

    return minimal_pdf("khong ky")


def test_the_dossier_trail_shows_every_event_and_every_document_verified(api: Api) -> None:
    code = resolved_dossier(api)
    result, _ = result_pdf(api, code)
    client = desk_client(api, AUDITOR)
    r = client.get(f"/thanh-tra?ma={code}")
    assert r.status_code == 303 and r.headers["location"] == f"/thanh-tra/ho-so/{code}"
    trail = client.get(r.headers["location"])
    assert trail.status_code == 200, trail.text
    page = trail.text
    history = api.get(f"/api/dossiers/{code}/history", AUDITOR).json()
    for event in history:
        if event["kind"] != "signature.verified":
            assert f"<code>{event['kind']}</code>" in page, event["kind"]
    assert "dossier.received" in page and "task.completed" in page and "signature.applied" in page
    # every PDF document is verified: the result passes, the unsigned uploaded papers have no signature
    assert "TOTAL-PASSED" in page and "NO_SIGNATURE" in page
    link = f"/thanh-tra/ho-so/{code}/tai-lieu/{result['id']}"
    assert f'href="{link}"' in page
    report = client.get(link)
    assert report.status_code == 200 and "TOTAL-PASSED" in report.text and result["sha256"] in report.text
    kinds = [e["kind"] for e in api.get(f"/api/dossiers/{code}/history", AUDITOR).json()]
    assert "dossier.read" in kinds and "signature.verified" in kinds  # reads and verifications are recorded

    english = client.get(f"{link}?lang=en").text
    assert "Overall indication" in english and "Each signature" in english
    client.get("/thanh-tra?lang=vi")
    assert client.get("/thanh-tra?ma=+").status_code == 422
    missing = client.get("/thanh-tra/ho-so/000.00.31.H99-260302-9999")
    assert missing.status_code == 404 and 'class="error"' in missing.text
    xss = client.get("/thanh-tra/ho-so/" + XSS.replace("/", "%2F"))
    assert XSS not in xss.text


def test_statistics_dashboard_with_charts_table_and_exports(api: Api) -> None:
    resolved_dossier(api)
    client = desk_client(api, AUDITOR)
    r = client.get("/thanh-tra/thong-ke?from=2026-03-01&to=2026-03-31&group_by=agency")
    assert r.status_code == 200, r.text
    page = r.text
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" role="img"') == 2
    assert "<title" in page and "Tiếp nhận" in page and "Mức độ hài lòng" in page
    assert "<script" not in page  # no scripts, the charts are plain SVG
    assert '<table id="indicators">' in page and "<caption>" in page and '<th scope="col">' in page
    assert "Ủy ban nhân dân xã Hòa An" in page and "Tổng cộng" in page
    for fmt, media in (("csv", "text/csv"), ("xlsx", "spreadsheetml")):
        href = f"/thanh-tra/thong-ke/xuat?from=2026-03-01&amp;to=2026-03-31&amp;group_by=agency&amp;format={fmt}"
        assert href in page, fmt
        export = client.get(href.replace("&amp;", "&"))
        assert export.status_code == 200 and media in export.headers["content-type"], fmt
    csv_text = client.get("/thanh-tra/thong-ke/xuat?from=2026-03-01&to=2026-03-31&format=csv").content.decode(
        "utf-8-sig"
    )
    assert csv_text.startswith("Mã cơ quan,Cơ quan") and "Ủy ban nhân dân xã Hòa An" in csv_text

    by_procedure = client.get("/thanh-tra/thong-ke?from=2026-03-01&to=2026-03-31&group_by=procedure")
    assert by_procedure.status_code == 200 and "Đăng ký thành lập hộ kinh doanh" in by_procedure.text

    backwards = client.get("/thanh-tra/thong-ke?from=2026-03-31&to=2026-03-01")
    assert backwards.status_code == 422 and "Ngày kết thúc không được trước ngày bắt đầu." in backwards.text
    junk = client.get(f"/thanh-tra/thong-ke?from={XSS}&group_by={XSS}&agency={XSS}")
    assert junk.status_code == 422 and XSS not in junk.text and "&lt;script&gt;" in junk.text


def test_leaders_see_only_their_agency_statistics_and_nothing_else_of_the_desk(api: Api) -> None:
    resolved_dossier(api)
    leader = desk_client(api, "lanhdao.xa1")
    desk = leader.get("/thanh-tra")
    assert desk.status_code == 200 and "/thanh-tra/thong-ke" in desk.text and "/thanh-tra/kiem-tra" not in desk.text
    own = leader.get("/thanh-tra/thong-ke?from=2026-03-01&to=2026-03-31&agency=000.00.31.H99")
    assert own.status_code == 200
    other = leader.get("/thanh-tra/thong-ke?from=2026-03-01&to=2026-03-31&agency=000.00.32.H99")
    assert other.status_code == 403
    assert leader.get("/thanh-tra/thong-ke/xuat?from=2026-03-01&to=2026-03-31&agency=000.00.32.H99").status_code == 403
    assert leader.get("/thanh-tra/ho-so/000.00.31.H99-260302-0001").status_code == 403
    token = csrf(leader, "/thanh-tra")
    files = {"file": ("a.pdf", api_minimal_pdf(), "application/pdf")}
    assert leader.post("/thanh-tra/kiem-tra", data={"csrf_token": token}, files=files).status_code == 403
    # specialists and citizens have no desk; a visitor is sent to log in
    assert desk_client(api, "chuyenvien1.xa1").get("/thanh-tra").status_code == 403
    assert desk_client(api, "congdan1").get("/thanh-tra/thong-ke").status_code == 403
    visitor = desk_client(api).get("/thanh-tra/thong-ke")
    assert visitor.status_code == 303 and visitor.headers["location"].startswith("/dang-nhap?next=")


def _post_routes(app: FastAPI) -> list[str]:
    paths = []
    for route in all_routes(app.routes):
        path = getattr(route, "path", "")
        if "POST" in (getattr(route, "methods", None) or ()) and path.startswith(("/quan-tri", "/can-bo", "/mot-cua")):
            paths.append(re.sub(r"\{[^}]+\}", "x", path))
    return paths


def test_an_auditor_changes_nothing_every_officials_and_admin_post_refuses_them(api: Api) -> None:
    app = desk_app(api)
    client = desk_client(api, AUDITOR, app)
    token = csrf(client, "/thanh-tra")
    paths = _post_routes(app)
    assert any(p.startswith("/can-bo") for p in paths) and any(p.startswith("/mot-cua") for p in paths)
    assert "/quan-tri/nguoi-dung" in paths and "/quan-tri/su-co/x/chay-lai" in paths and "/quan-tri/lich" in paths
    for path in paths:
        r = client.post(path, data={"csrf_token": token, "username": "x", "day": "2026-12-31", "reason": "x"})
        assert r.status_code == 403, (path, r.status_code, r.text[:200])
    assert client.get("/quan-tri").status_code == 403
    # the desk's own pages carry no form that changes data: only the upload to verify posts
    for page in ("/thanh-tra", "/thanh-tra/thong-ke?from=2026-03-01&to=2026-03-31"):
        actions = re.findall(r'<form method="post" action="([^"]+)"', client.get(page).text)
        assert set(actions) <= {"/thanh-tra/kiem-tra", "/dang-xuat"}, actions


@pytest.mark.parametrize("ratings", [(0, 0, 0, 0, 0), (1, 0, 2, 3, 4), (0, 0, 0, 0, 7)])
def test_charts_are_accessible_svg_that_escape_their_labels(ratings: tuple[int, ...]) -> None:
    donut = donut_chart(ratings)
    assert donut.startswith("<svg") and 'role="img"' in donut and "aria-labelledby=" in donut
    assert "<title" in donut and "<desc" in donut and "Rất hài lòng" in donut
    bars = bar_chart([BarGroup(XSS, {"received": 3, "resolved": 2, "on_time": 2}), BarGroup("Xã B", {})])
    assert XSS not in bars and "&lt;script&gt;" in bars
    assert bars.count("<rect") >= 10 and "Trước hạn" in bars and "Quá hạn" in bars
    assert "<title>Xã B — Tiếp nhận: 0</title>" in bars
    assert "Không có số liệu" in bar_chart([])
