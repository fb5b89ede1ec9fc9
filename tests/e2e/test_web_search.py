"""Finding a dossier on the pages: the officials' list page has three sections — to do, handled ("Đã xử lý"), find
("Tìm hồ sơ") — whose filters all live in the URL (a bookmark gives the same view back), and a pane beside the list
that opens a task or a dossier; reception finds a dossier at the desk the same way."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

from dossiers.model import Role
from motcua.app import DEMO_PASSWORD
from tests.conftest import HOUSEHOLD_BUSINESS, OTHER_COMMUNE, Api
from tests.web import csrf, logged_in

LIST = "/can-bo/nhiem-vu"


def submitted(api: Api, name: str, id_number: str = "001090012345", **fields: str) -> str:
    r = api.submit(
        "tiepnhan.xa1", HOUSEHOLD_BUSINESS, None, applicant_name=name, applicant_id_number=id_number, **fields
    )
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def listed_codes(html: str) -> list[str]:
    """The dossier codes of the result table's rows, in order."""
    return re.findall(r'<th scope="row"><a href="[^"]*ho_so=[^"]*">([^<]+)</a></th>', html)


def test_a_specialist_finds_nguyen_van_a_typed_without_diacritics(api: Api) -> None:
    wanted = submitted(api, "Nguyễn Văn A")
    other = submitted(api, "Trần Thị Bình", "001190000002")
    client = logged_in(api, "chuyenvien1.xa1")
    r = client.get(LIST, params={"muc": "tim-kiem", "q": "nguyen van a"})
    assert r.status_code == 200, r.text
    assert listed_codes(r.text) == [wanted] and other not in r.text
    assert "Nguyễn Văn A" in r.text and "Tìm thấy 1 hồ sơ cho “nguyen van a”." in r.text
    assert 'value="nguyen van a"' in r.text  # the search box keeps what was typed
    # a code typed in lower case with spaces
    spaced = " ".join(wanted.lower().split("-"))
    assert listed_codes(client.get(LIST, params={"muc": "tim-kiem", "q": wanted.lower()}).text) == [wanted]
    assert wanted in client.get(LIST, params={"muc": "tim-kiem", "q": spaced.replace(" ", " - ")}).text
    # an official of another commune finds nothing
    api.runtime.accounts.add(
        "chuyenvien.xa2",
        DEMO_PASSWORD,
        "Chuyên viên xã 2",
        Role.SPECIALIST,
        OTHER_COMMUNE,
        None,
        api.runtime.clock.now(),
    )
    stranger = logged_in(api, "chuyenvien.xa2").get(LIST, params={"muc": "tim-kiem", "q": "nguyen van a"})
    assert stranger.status_code == 200 and listed_codes(stranger.text) == [] and "Nguyễn Văn A" not in stranger.text


def test_a_bookmarked_filter_url_gives_the_same_results(api: Api) -> None:
    made = [submitted(api, f"Nguyễn Văn Số{i}", f"0010900000{i:02d}") for i in range(22)]
    client = logged_in(api, "chuyenvien1.xa1")
    first = client.get(LIST, params={"muc": "tim-kiem", "q": "nguyen", "thu_tuc": "1.001612", "trang_thai": "received"})
    assert listed_codes(first.text) == list(reversed(made))[:20]
    # the link to the next page carries every filter
    [next_link] = [unescape(u) for u in re.findall(r'href="([^"]+)" rel="next"', first.text)]
    query = parse_qs(urlsplit(next_link).query)
    assert query == {
        "muc": ["tim-kiem"],
        "q": ["nguyen"],
        "thu_tuc": ["1.001612"],
        "trang_thai": ["received"],
        "trang": ["2"],
    }
    second = client.get(next_link)
    assert listed_codes(second.text) == list(reversed(made))[20:]
    # the same URL, bookmarked and opened again later in another session, shows the same page
    again = logged_in(api, "chuyenvien1.xa1").get(next_link)
    assert listed_codes(again.text) == listed_codes(second.text)
    assert 'value="nguyen"' in again.text and 'value="received" selected' in again.text
    assert 'value="1.001612" selected' in again.text
    # another status: nothing
    assert (
        listed_codes(client.get(LIST, params={"muc": "tim-kiem", "q": "nguyen", "trang_thai": "returned"}).text) == []
    )
    # a page number that is not one is the first page, never an error
    assert client.get(LIST, params={"muc": "tim-kiem", "trang": "x" * 50}).status_code == 200


def test_handled_lists_the_dossiers_the_official_completed_a_step_on(api: Api) -> None:
    code = submitted(api, "Nguyễn Văn A")
    api.work()
    client = logged_in(api, "chuyenvien1.xa1")
    before = client.get(LIST, params={"muc": "da-xu-ly"})
    assert before.status_code == 200 and listed_codes(before.text) == []
    assert "Bạn và phòng, ban của bạn chưa xử lý hồ sơ nào." in before.text
    assert api.decide("chuyenvien1.xa1", code, "approve", "Hợp lệ").status_code == 200
    after = client.get(LIST, params={"muc": "da-xu-ly"}).text
    assert listed_codes(after) == [code]
    assert "Đăng ký thành lập hộ kinh doanh" in after and "Nguyễn Văn A" in after and "Đang giải quyết" in after
    assert 'aria-current="page" class="current">Đã xử lý<' in after
    assert listed_codes(logged_in(api, "chuyenvien2.xa1").get(LIST, params={"muc": "da-xu-ly"}).text) == []


def test_the_pane_opens_a_dossier_and_a_task_beside_the_list(api: Api) -> None:
    code = submitted(api, "Nguyễn Văn A")
    api.work()
    client = logged_in(api, "chuyenvien1.xa1")
    found = client.get(LIST, params={"muc": "tim-kiem", "q": "nguyen van a"}).text
    [dossier_link] = [unescape(u) for u in re.findall(r'<th scope="row"><a href="([^"]+)">', found)]
    assert dossier_link.endswith("#xem") and "ho_so=" in dossier_link and "q=nguyen+van+a" in dossier_link
    pane = client.get(dossier_link.split("#")[0]).text
    assert 'id="xem"' in pane and f"Hồ sơ {code}" in pane and "001090012345" in pane
    assert listed_codes(pane) == [code]  # the list is still there, beside it
    [task_link] = [unescape(u) for u in re.findall(r'<li><a href="([^"]+mo=[^"]+)">', pane)]
    task_pane = client.get(task_link.split("#")[0]).text
    assert 'id="decision-form"' in task_pane and "Thẩm định hồ sơ" in task_pane
    # a decision from the pane comes back to the same list with its filters
    task_id = parse_qs(urlsplit(task_link).query)["mo"][0]
    [back] = [unescape(v) for v in re.findall(r'name="back" value="([^"]+)"', task_pane.split('id="decision-form"')[1])]
    r = client.post(
        f"{LIST}/{task_id}",
        data={"csrf_token": csrf(client, LIST), "decision": "approve", "comment": "Hợp lệ", "back": back},
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"{LIST}?muc=tim-kiem&q=nguyen+van+a&tb=da-xu-ly"
    # a dossier of another agency does not open, and says why without showing it
    api.runtime.accounts.add(
        "chuyenvien.xa2",
        DEMO_PASSWORD,
        "Chuyên viên xã 2",
        Role.SPECIALIST,
        OTHER_COMMUNE,
        None,
        api.runtime.clock.now(),
    )
    refused = logged_in(api, "chuyenvien.xa2").get(LIST, params={"muc": "tim-kiem", "ho_so": code}).text
    assert "Hồ sơ thuộc cơ quan khác." in refused and "Nguyễn Văn A" not in refused


def test_reception_finds_a_dossier_at_the_desk(api: Api) -> None:
    code = submitted(api, "Nguyễn Văn A", applicant_phone="0912345678")
    client = logged_in(api, "tiepnhan.xa1")
    desk = client.get("/mot-cua").text
    assert 'action="/mot-cua/tim-kiem"' in desk and "Tìm hồ sơ" in desk
    for typed in ("nguyen van a", code.lower(), "0912 345 678", "001090012345"):
        r = client.get("/mot-cua/tim-kiem", params={"q": typed})
        assert r.status_code == 200, r.text
        assert f'href="/mot-cua/ho-so/{code}"' in r.text, typed
    none = client.get("/mot-cua/tim-kiem", params={"q": "khong co ai"}).text
    assert "Không có hồ sơ nào phù hợp." in none and code not in none
    assert logged_in(api, "chuyenvien1.xa1").get("/mot-cua/tim-kiem", params={"q": "a"}).status_code == 403
