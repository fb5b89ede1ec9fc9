"""Form templates as data (documents/templates/): the shipped sets are valid and complete, and a dossier's received
date picks the set in force (Circular 01/2018 before 15 September 2025, Circular 03/2025 from that day). Edited
copies, overrides and the forms read back with poppler: tests/integration/test_form_templates.py and
tests/integration/test_forms_2025.py."""

from __future__ import annotations

import datetime as dt

import pytest

from documents.forms import ApologyData, StopNoticeData, render_apology, render_stop_notice
from documents.templating import (
    DEFAULT_DIR,
    KINDS,
    SETS,
    SPEC,
    SPECS,
    Templates,
    check_template,
    set_on,
    validate_templates,
)

VN = dt.timezone(dt.timedelta(hours=7))


def test_shipped_templates_are_valid_and_complete() -> None:
    assert validate_templates() == []
    assert sorted(p.stem for p in DEFAULT_DIR.glob("*.json") if p.name != "sets.json") == sorted(SPEC)
    assert sorted(p.stem for p in (DEFAULT_DIR / "2025").glob("*.json")) == sorted(SPECS["2025"])


def test_the_sets_are_dated_and_name_the_circulars() -> None:
    assert [(s.name, s.valid_from) for s in SETS] == [("2018", dt.date(2019, 1, 8)), ("2025", dt.date(2025, 9, 15))]
    assert "01/2018/TT-VPCP" in SETS[0].source and "03/2025/TT-VPCP" in SETS[1].source


@pytest.mark.parametrize(
    ("day", "edition"),
    [
        (dt.date(2025, 9, 14), "2018"),
        (dt.date(2025, 9, 15), "2025"),
        (dt.date(2026, 3, 2), "2025"),
        (dt.date(2017, 1, 1), "2018"),  # before the oldest set: still the oldest
        # 17:30 UTC on the 14th is 00:30 on the 15th in Vietnam: the new set
        (dt.datetime(2025, 9, 14, 17, 30, tzinfo=dt.UTC), "2025"),
        (dt.datetime(2025, 9, 14, 16, 59, tzinfo=dt.UTC), "2018"),
    ],
)
def test_the_received_date_picks_the_set(day: dt.date, edition: str) -> None:
    assert set_on(day).name == edition
    assert Templates().on(day).edition == edition


def test_each_purpose_has_its_form_in_each_set() -> None:
    old, new = Templates(), Templates().on(dt.date(2025, 9, 15))
    assert old.edition == "2018"  # without a date: the forms as before
    assert [old.kind(k) for k in KINDS] == ["mau-01", "mau-02", "mau-03", "mau-04", None, "mau-05", "mau-06"]
    assert [new.kind(k) for k in KINDS] == ["mau-01", "mau-02", "mau-03", "mau-04", "mau-05", "mau-06", "mau-07"]
    assert (
        old.form("control_sheet").name == new.form("control_sheet").name == "Phiếu kiểm soát quá trình giải quyết hồ sơ"
    )
    assert new.form("stop_notice").name == "Thông báo dừng giải quyết hồ sơ"
    assert new.form("apology").name == "Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết"
    assert old.form("apology").name == "Phiếu xin lỗi và hẹn lại ngày trả kết quả"
    with pytest.raises(KeyError):
        old.form("stop_notice")
    # the views share one cache: asking twice gives the same loaded set
    assert Templates().on(dt.date(2026, 1, 1)).on(dt.date(2024, 1, 1)).edition == "2018"


def test_the_2025_forms_have_the_fields_the_2018_ones_lacked() -> None:
    new = Templates().on(dt.date(2026, 1, 1))
    assert new.form("receipt").has("register_entry") and not Templates().form("receipt").has("register_entry")
    assert set(new.form("receipt").labels("returns")) == {"counter", "postal", "online"}
    for kind in ("supplement_request", "refusal", "apology", "stop_notice"):
        assert new.form(kind).has("address") and new.form(kind).has("email"), kind
    assert new.form("control_sheet").has("coordinating")
    assert new.form("tracking_register").has("book")


def test_a_2025_template_is_checked_against_its_own_set() -> None:
    data = {"form": "mau-07", "name": "Sổ theo dõi hồ sơ", "texts": {}}
    assert check_template(data, "mau-07") == [
        "template: trường 'form' phải là một trong: mau-01, mau-02, mau-03, mau-04, mau-05, mau-06 (đang ghi "
        "'mau-07') / field 'form' must be one of mau-01, mau-02, mau-03, mau-04, mau-05, mau-06 (found 'mau-07')"
    ]
    problems = check_template(data, "mau-07", edition="2025")
    assert "template: mau-07: thiếu trường bắt buộc 'texts.book' / missing required field 'texts.book'" in problems


def _apology() -> ApologyData:
    t0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)
    return ApologyData(
        dossier_code="000.00.31.H99-260302-0001",
        agency_name="Ủy ban nhân dân xã Tân Lập",
        place_name="Tân Lập",
        applicant_name="Nguyễn Thị Hương",
        procedure_name="Đăng ký thành lập hộ kinh doanh",
        received_at=t0,
        old_due_at=t0 + dt.timedelta(days=3),
        new_due_at=t0 + dt.timedelta(days=7),
        reason="Cần xác minh thực địa",
        issued_at=t0 + dt.timedelta(days=2),
    )


def test_the_two_apologies_differ_and_the_stop_notice_needs_the_2025_set() -> None:
    old = render_apology(_apology())
    new = render_apology(_apology(), Templates().on(dt.date(2026, 3, 2)))
    assert old.startswith(b"%PDF-") and new.startswith(b"%PDF-") and old != new
    a = _apology()
    notice = StopNoticeData(
        dossier_code=a.dossier_code,
        agency_name=a.agency_name,
        place_name=a.place_name,
        applicant_name=a.applicant_name,
        procedure_name=a.procedure_name,
        received_at=a.received_at,
        reason="Ông/Bà rút hồ sơ",
        issued_at=a.issued_at,
    )
    assert render_stop_notice(notice, Templates().on(dt.date(2026, 3, 2))).startswith(b"%PDF-")
    with pytest.raises(KeyError):
        render_stop_notice(notice)  # the 2018 set has no such form
