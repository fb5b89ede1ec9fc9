"""The citizens' portal (/cong-dan) and the public lookup (/tra-cuu): submitting online through the page form,
"my dossiers", a supplement with a new paper, the signed result after the officials finished, one rating,
nobody else's dossiers, and a lookup that shows no personal data."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from fastapi.testclient import TestClient

from dossiers.model import Role
from motcua.app import DEMO_PASSWORD
from tests.conftest import COMMUNE, HOUSEHOLD_BUSINESS, Api, minimal_pdf
from tests.e2e.test_web_desk import XSS, application, assert_labelled, inputs_of, page_browser, scans, signed_in_as
from tests.web import csrf

SUBMIT = "/cong-dan/nop-ho-so"
ID_NUMBER = "001090012345"


def submit_online(client: TestClient, **changes: str) -> str:
    token = csrf(client, f"{SUBMIT}?thu_tuc={HOUSEHOLD_BUSINESS}")
    data = application(**changes) | {"thu_tuc": HOUSEHOLD_BUSINESS, "agency_code": COMMUNE, "csrf_token": token}
    r = client.post(SUBMIT, data=data, files=scans())
    assert r.status_code == 303, r.text
    found = re.fullmatch(r"/cong-dan/ho-so/([^?]+)\?moi=1", r.headers["location"])
    assert found, r.headers["location"]
    return found.group(1)


def add_citizen(api: Api, username: str) -> None:
    api.runtime.accounts.add(
        username, DEMO_PASSWORD, "Trần Thị Bình", Role.CITIZEN, None, None, api.runtime.clock.now()
    )


def test_only_online_procedures_can_be_submitted_online(api: Api) -> None:
    client = signed_in_as(api, "congdan1")
    listing = client.get(SUBMIT)
    assert listing.status_code == 200
    assert f"{SUBMIT}?thu_tuc={HOUSEHOLD_BUSINESS}" in listing.text
    assert "thu_tuc=2.000815" not in listing.text  # certified copies: at the counter only
    assert f"thu_tuc={HOUSEHOLD_BUSINESS}" in client.get(SUBMIT, params={"q": "ho kinh doanh"}).text
    refused = client.get(SUBMIT, params={"thu_tuc": "2.000815"})
    assert refused.status_code == 404 and "không nhận hồ sơ trực tuyến" in refused.text
    form = client.get(SUBMIT, params={"thu_tuc": HOUSEHOLD_BUSINESS})
    assert form.status_code == 200
    parsed = assert_labelled(form.text)
    assert "agency_code" in parsed.controls and f'<option value="{COMMUNE}"' in form.text
    assert 'name="viewport" content="width=device-width' in form.text  # usable on a 375 px phone
    assert "table.responsive td[data-label]::before" in form.text
    assert page_browser(api).get("/cong-dan").headers["location"] == "/dang-nhap?next=/cong-dan"


def test_submission_errors_are_shown_in_the_page_and_nothing_is_registered(api: Api) -> None:
    client = signed_in_as(api, "congdan1")
    token = csrf(client, f"{SUBMIT}?thu_tuc={HOUSEHOLD_BUSINESS}")
    wrong = scans(**{"paper.giay_de_nghi": ("anh.gif", b"GIF89a....", "image/gif")})
    data = application(applicant_name=XSS) | {"thu_tuc": HOUSEHOLD_BUSINESS, "agency_code": "", "csrf_token": token}
    r = client.post(SUBMIT, data=data, files=wrong)
    assert r.status_code == 422
    assert "Hãy chọn cơ quan tiếp nhận hồ sơ." in r.text and "không được chấp nhận (chỉ PDF, JPEG, PNG)" in r.text
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text
    assert inputs_of(r.text).controls["agency_code"].get("aria-invalid") == "true"
    assert client.get("/cong-dan").text.count("/cong-dan/ho-so/") == 0


def test_a_citizen_submits_supplements_downloads_the_result_and_rates_once(api: Api) -> None:
    client = signed_in_as(api, "congdan1")
    code = submit_online(client)
    view = api.get(f"/api/dossiers/{code}", "congdan1").json()
    assert view["channel"] == "online" and view["agency_code"] == COMMUNE

    mine = client.get("/cong-dan")
    assert mine.status_code == 200 and f'href="/cong-dan/ho-so/{code}"' in mine.text
    assert "Chờ tiếp nhận" in mine.text  # reception checks it first
    first = client.get(f"/cong-dan/ho-so/{code}?moi=1")
    assert first.status_code == 200 and "Đã nộp hồ sơ." in first.text and "Bộ phận Một cửa sẽ kiểm tra" in first.text
    assert "Giấy tiếp nhận hồ sơ và hẹn trả kết quả (Mẫu 01)" not in first.text
    assert api.receive(code).status_code == 200
    mine = client.get("/cong-dan")
    assert "Đang giải quyết" in mine.text and "05/03/2026" in mine.text  # status and due date
    accepted = client.get(f"/cong-dan/ho-so/{code}").text
    assert "Giấy tiếp nhận hồ sơ và hẹn trả kết quả (Mẫu 01)" in accepted
    assert "Bộ phận Một cửa tiếp nhận hồ sơ" in accepted  # the processing history

    # the specialist asks for a supplement: the citizen answers with a new paper
    assert api.decide("chuyenvien1.xa1", code, "supplement", "Bổ sung biên bản họp gia đình").status_code == 200
    api.work()
    asked = client.get(f"/cong-dan/ho-so/{code}")
    assert "Yêu cầu bổ sung" in asked.text and "Phiếu yêu cầu bổ sung" in asked.text
    assert "Nội dung cần bổ sung:</strong> Bổ sung biên bản họp gia đình" in asked.text  # the request's reason
    assert f'action="/cong-dan/ho-so/{code}/bo-sung"' in asked.text
    assert_labelled(asked.text)
    token = csrf(client, f"/cong-dan/ho-so/{code}")
    bad = client.post(
        f"/cong-dan/ho-so/{code}/bo-sung",
        data={"csrf_token": token},
        files={"paper.bien_ban_hop": ("bien-ban.docx", b"PK\x03\x04 word", "application/msword")},
    )
    assert bad.status_code == 422 and "bien-ban.docx" in bad.text and "không được chấp nhận" in bad.text
    attrs = inputs_of(bad.text).controls["supplement-paper-bien_ban_hop"]
    assert (
        attrs.get("aria-invalid") == "true" and attrs.get("aria-describedby") == "supplement-paper-bien_ban_hop-error"
    )
    empty = client.post(
        f"/cong-dan/ho-so/{code}/bo-sung",
        data={"csrf_token": token},
        files={"paper.bien_ban_hop": ("", b"", "application/octet-stream")},
    )
    assert empty.status_code == 422 and "ít nhất một giấy tờ bổ sung" in empty.text
    good = client.post(
        f"/cong-dan/ho-so/{code}/bo-sung",
        data={"csrf_token": token},
        files={"paper.bien_ban_hop": ("bien-ban.pdf", minimal_pdf("bien ban"), "application/pdf")},
    )
    assert good.status_code == 303 and good.headers["location"] == f"/cong-dan/ho-so/{code}?da_bo_sung=1"
    answered = client.get(good.headers["location"])  # before the workers take the papers in
    assert "Đã nhận giấy tờ bổ sung" in answered.text
    assert f'action="/cong-dan/ho-so/{code}/bo-sung"' not in answered.text
    api.work()
    after = client.get(good.headers["location"])
    assert "Đã gửi giấy tờ bổ sung." in after.text and "Giấy tờ bổ sung: Biên bản họp" in after.text
    assert 'action="/cong-dan/ho-so/' + code + '/bo-sung"' not in after.text  # nothing asked any more

    # too early to rate
    early = client.post(f"/cong-dan/ho-so/{code}/danh-gia", data={"csrf_token": token, "level": "5"})
    assert early.status_code == 409 and "đã có kết quả" in early.text

    # the officials finish: the signed result can be downloaded
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    done = client.get(f"/cong-dan/ho-so/{code}")
    assert "Có kết quả" in done.text
    link = re.search(r'href="(/api/dossiers/[^"]+)" download>Kết quả giải quyết \(có chữ ký số\)', done.text)
    assert link, done.text
    pdf = client.get(link.group(1))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and b"/ByteRange" in pdf.content  # signed
    assert_labelled(done.text)  # the rating form

    rated = client.post(f"/cong-dan/ho-so/{code}/danh-gia", data={"csrf_token": token, "level": "5", "comment": XSS})
    assert rated.status_code == 303 and rated.headers["location"] == f"/cong-dan/ho-so/{code}?da_danh_gia=1"
    thanked = client.get(rated.headers["location"])
    assert "Cảm ơn bạn đã đánh giá." in thanked.text and "Rất hài lòng" in thanked.text
    assert 'action="/cong-dan/ho-so/' + code + '/danh-gia"' not in thanked.text
    again = client.post(f"/cong-dan/ho-so/{code}/danh-gia", data={"csrf_token": token, "level": "1"})
    assert again.status_code == 409 and "Hồ sơ này đã được đánh giá." in again.text
    bad_level = client.post(f"/cong-dan/ho-so/{code}/danh-gia", data={"csrf_token": token, "level": "9"})
    assert bad_level.status_code == 422 and "từ 1 đến 5" in bad_level.text


def test_another_citizen_cannot_see_or_touch_the_dossier(api: Api) -> None:
    code = submit_online(signed_in_as(api, "congdan1"))
    add_citizen(api, "congdan2")
    other = signed_in_as(api, "congdan2")
    assert code not in other.get("/cong-dan").text
    r = other.get(f"/cong-dan/ho-so/{code}")
    assert r.status_code == 403 and "Nguyễn Văn An" not in r.text and "quyền" in r.text
    token = csrf(other, "/cong-dan")
    files = {"paper.bien_ban_hop": ("bien-ban.pdf", minimal_pdf("x"), "application/pdf")}
    assert other.post(f"/cong-dan/ho-so/{code}/bo-sung", data={"csrf_token": token}, files=files).status_code == 403
    assert other.post(f"/cong-dan/ho-so/{code}/danh-gia", data={"csrf_token": token, "level": "1"}).status_code == 403
    counter = api.submit().json()["code"]  # registered at the desk: not in congdan1's list either
    assert counter not in signed_in_as(api, "congdan1").get("/cong-dan").text


def test_the_public_lookup_prefills_the_code_and_shows_no_personal_data(api: Api) -> None:
    code = api.submit(applicant_phone="0912345678").json()["code"]
    api.work()
    visitor = page_browser(api)
    form = visitor.get("/tra-cuu", params={"ma": code})  # where the receipt's QR code points
    assert form.status_code == 200
    assert inputs_of(form.text).controls["ma"].get("value") == code
    assert_labelled(form.text)

    r = visitor.post("/tra-cuu", data={"ma": code, "so_dinh_danh": ID_NUMBER})
    assert r.status_code == 200
    for shown in (code, "Đăng ký thành lập hộ kinh doanh", "05/03/2026"):
        assert shown in r.text, shown
    for personal in ("Nguyễn Văn An", ID_NUMBER, "0912345678", "Tạp hóa Bình An", "Thôn Đông"):
        assert personal not in r.text, personal

    wrong = visitor.post("/tra-cuu", data={"ma": code, "so_dinh_danh": "001090099999"})
    assert wrong.status_code == 404 and "Không tìm thấy hồ sơ" in wrong.text
    malformed = visitor.post("/tra-cuu", data={"ma": XSS, "so_dinh_danh": "12"})
    assert malformed.status_code == 422 and "<script>alert(1)</script>" not in malformed.text
    assert inputs_of(malformed.text).controls["so_dinh_danh"].get("aria-invalid") == "true"


def test_the_public_lookup_links_the_result_and_is_rate_limited(api: Api) -> None:
    code = api.submit().json()["code"]
    api.work()
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    visitor = page_browser(api)
    r = visitor.post("/tra-cuu", data={"ma": code, "so_dinh_danh": ID_NUMBER})
    link = re.search(r'href="(/api/public/results/[^"]+)"', r.text)
    assert link, r.text
    assert visitor.get(link.group(1)).content.startswith(b"%PDF-")

    limit = api.runtime.settings.public_lookups_per_minute
    statuses = [
        visitor.post("/tra-cuu", data={"ma": code, "so_dinh_danh": ID_NUMBER}).status_code for _ in range(limit)
    ]
    assert statuses[-1] == 429
    blocked = visitor.post("/tra-cuu", data={"ma": code, "so_dinh_danh": ID_NUMBER})
    assert blocked.status_code == 429 and "Quá nhiều lượt tra cứu" in blocked.text
    assert int(blocked.headers["retry-after"]) >= 1


def test_the_public_lookup_forgives_lower_case_and_spaces(api: Api) -> None:
    """People copy the code from a paper receipt: lower case and spaces (also in the ID number) still find it."""
    code = api.submit().json()["code"]
    api.work()
    visitor = page_browser(api)
    typed = " " + code.lower().replace("-", " - ") + " "
    r = visitor.post("/tra-cuu", data={"ma": typed, "so_dinh_danh": " ".join([ID_NUMBER[:6], ID_NUMBER[6:]])})
    assert r.status_code == 200, r.text
    assert code in r.text and "Đăng ký thành lập hộ kinh doanh" in r.text
    tracked = api.client.get("/api/public/tracking", params={"code": code.lower(), "id_number": ID_NUMBER})
    assert tracked.status_code == 200 and tracked.json()["code"] == code


def test_every_page_has_the_icon_and_favicon_ico_leads_to_it(api: Api) -> None:
    """A browser tab shows the one-stop shop's icon, not a blank page (issue 16, point 7)."""
    visitor = page_browser(api)
    for path in ("/thu-tuc", "/tra-cuu", "/dang-nhap"):
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in visitor.get(path).text, path
    icon = visitor.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert ElementTree.fromstring(icon.content).tag == "{http://www.w3.org/2000/svg}svg"
    legacy = visitor.get("/favicon.ico", follow_redirects=False)
    assert legacy.status_code == 301 and legacy.headers["location"] == "/static/favicon.svg"
