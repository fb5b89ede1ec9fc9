"""The procedure catalogue as data: dated rule versions, every schema problem reported with its path. The checks of
``motcua procedures validate`` on edited copies of the catalogue are in tests/integration/test_catalogue.py."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest

from dossiers.catalogue import CatalogueError, TimeUnit, check_entry, parse_entry
from dossiers.errors import InvalidInput
from dossiers.model import AgencyLevel
from dossiers.problems import english, vietnamese
from services.catalogue import BUILT_IN, read_catalogue

HOUSEHOLD = json.loads((BUILT_IN / "1.001612.json").read_text(encoding="utf-8"))


def entry_data(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(HOUSEHOLD)
    data.update(changes)
    return data


def test_every_built_in_entry_parses_and_has_a_version_in_force_today() -> None:
    rows, problems = read_catalogue([BUILT_IN])
    assert problems == []
    assert len(rows) >= 2
    for _, _, entry in rows:
        assert entry.version_at(dt.date(2026, 3, 2)) is not None, entry.code


def test_the_version_in_force_depends_on_the_day() -> None:
    entry = parse_entry(HOUSEHOLD)
    before = entry.at(dt.date(2025, 6, 30))
    after = entry.at(dt.date(2025, 7, 1))
    assert before.levels == (AgencyLevel.DISTRICT,) and before.rule_version == "2021-04-04"
    assert after.levels == (AgencyLevel.COMMUNE,) and after.rule_version == "2025-07-01"
    assert entry.under("2021-04-04") == before  # a dossier keeps the version it recorded
    with pytest.raises(InvalidInput, match="no rule version in force"):
        entry.at(dt.date(2020, 1, 1))
    papers = {p.key: p for p in after.papers}
    assert papers["giay_de_nghi"].form == "original" and papers["giay_to_phap_ly"].form == "copy"
    assert papers["bien_ban_hop"].mandatory is False


def test_same_day_and_calendar_day_limits() -> None:
    data = entry_data()
    data["versions"] = [dict(HOUSEHOLD["versions"][1], time_limit={"days": 0, "unit": "same_day"})]
    same_day = parse_entry(data).at(dt.date(2026, 1, 5))
    assert same_day.time_limit_days == 0 and same_day.working_days
    data["versions"] = [dict(HOUSEHOLD["versions"][1], time_limit={"days": 15, "unit": "calendar_days"})]
    calendar = parse_entry(data)
    assert calendar.versions[0].time_unit is TimeUnit.CALENDAR_DAYS
    assert calendar.at(dt.date(2026, 1, 5)).working_days is False


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"code": ""}, ("$.code: phải là một nội dung văn bản, không để trống", "must be a non-empty text")),
        (
            {"online_level": "sometimes"},
            ('$.online_level: giá trị "sometimes" không dùng được; chọn một trong: full, partial', "is not one of"),
        ),
        (
            {"channels": ["fax"]},
            ('$.channels[0]: giá trị "fax" không dùng được; chọn một trong: counter, online, postal', "is not one"),
        ),
        ({"colour": "red"}, ("$.colour: mục này không có trong mẫu danh mục; chỉ dùng: channels,", "unknown key")),
        ({"versions": []}, ("$.versions: phải có ít nhất một phiên bản quy định", "must list at least one")),
    ],
)
def test_entry_problems_name_their_path(change: dict[str, Any], expected: tuple[str, str]) -> None:
    """Vietnamese first, with the path; the English after " / " (what a page shows is the Vietnamese part)."""
    entry, problems = check_entry(entry_data(**change))
    assert entry is None
    vi, en = expected
    assert any(vietnamese(p).startswith(vi) and en in english(p) for p in problems), problems


def test_every_problem_of_a_version_is_reported_at_once() -> None:
    version = copy.deepcopy(HOUSEHOLD["versions"][1])
    version.update(
        valid_from="2025-02-30",
        levels=["hamlet"],
        time_limit={"days": -1, "unit": "working_days"},
        fee_vnd="free",
    )
    version["papers"][0]["form"] = "photocopy"
    version["papers"][1]["count"] = 0
    version["papers"].append(dict(version["papers"][0]))  # the same key twice
    _, problems = check_entry(entry_data(versions=[version]))
    text = "\n".join(problems)
    for expected in (
        '$.versions[0].valid_from: ngày "2025-02-30" không có thật hoặc sai dạng năm-tháng-ngày',
        '$.versions[0].levels[0]: giá trị "hamlet" không dùng được; chọn một trong: province, district, commune',
        "$.versions[0].time_limit.days: phải là số nguyên từ 0 trở lên, đang ghi -1",
        '$.versions[0].fee_vnd: phải là số đồng, số nguyên từ 0 trở lên, đang ghi "free"',
        '$.versions[0].papers[0].form: giá trị "photocopy" không dùng được',
        "$.versions[0].papers[1].count: phải là số nguyên từ 1 trở lên, đang ghi 0",
        '$.versions[0].papers[3].key: mã giấy tờ "giay_de_nghi" bị trùng với một giấy tờ khác',
    ):
        assert expected in text, text
    assert "must be a whole number ≥ 0, got -1" in text  # the English stays, after " / "


def test_overlapping_versions_are_refused() -> None:
    first, second = copy.deepcopy(HOUSEHOLD["versions"])
    first["valid_to"] = "2025-07-01"  # the day the next one starts
    with pytest.raises(CatalogueError, match=r"phải hết hiệu lực \(valid_to\) trước ngày phiên bản 2025-07-01 bắt đầu"):
        parse_entry(entry_data(versions=[first, second]))


def test_every_built_in_entry_names_where_its_code_was_checked() -> None:
    rows, problems = read_catalogue([BUILT_IN])
    assert problems == []
    for _, _, entry in rows:
        assert any("code" in s.facts for s in entry.sources), entry.code
        for source in entry.sources:
            assert source.title and (source.url or source.reference), entry.code
            assert source.consulted <= dt.date.today(), entry.code


def test_source_problems_name_their_path() -> None:
    good = {"title": "Nghị định 151/2025/NĐ-CP", "reference": "Công báo", "consulted": "2026-12-07", "facts": ["fee"]}
    sources = [
        good,
        {"title": "Trang không có địa chỉ", "consulted": "2026-12-07"},
        dict(good, consulted="07/12/2026", facts=["colour"]),
        "not an object",
    ]
    _, problems = check_entry(entry_data(sources=sources))
    text = "\n".join(problems)
    for expected in (
        "$.sources[1]: phải ghi địa chỉ trang (url) hoặc văn bản tham chiếu (reference)",
        '$.sources[2].consulted: ngày "07/12/2026" không có thật',
        '$.sources[2].facts[0]: giá trị "colour" không dùng được; chọn một trong: code, name, level, time_limit, fee,',
        "$.sources[3]: phải là một đối tượng JSON {…} / must be an object",
    ):
        assert expected in text, text
    assert not any(p.startswith("$.sources[0]") for p in problems)


def test_a_withdrawn_procedure_is_not_offered_but_its_versions_stay() -> None:
    entry = parse_entry(entry_data(withdrawn_on="2026-12-07", replaced_by="1.009999"))
    assert entry.offered_on(dt.date(2026, 12, 6)) and not entry.offered_on(dt.date(2026, 12, 7))
    assert entry.at(dt.date(2026, 12, 6)).rule_version == "2025-07-01"  # the day before: as it was
    assert entry.version_at(dt.date(2026, 12, 7)) is None
    with pytest.raises(InvalidInput) as refused:
        entry.at(dt.date(2027, 1, 4))
    assert refused.value.message_vi == (
        "Thủ tục 1.001612 (Đăng ký thành lập hộ kinh doanh) không còn trong danh mục thủ tục từ ngày 07/12/2026, "
        "không tiếp nhận hồ sơ mới. Hãy nộp hồ sơ theo thủ tục 1.009999."
    )
    assert refused.value.details["withdrawn_on"] == "2026-12-07"
    assert entry.under("2025-07-01").code == "1.001612"  # a dossier received before goes on under its version
    assert parse_entry(HOUSEHOLD).replaces == ("2.000575",)  # the code it was shipped under before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"withdrawn_on": "07/12/2026"}, '$.withdrawn_on: ngày "07/12/2026" không có thật'),
        ({"replaces": "2.000575"}, '$.replaces: phải liệt kê các mã thủ tục, đang ghi "2.000575"'),
        ({"replaces": ["1.001612"]}, "$.replaces: không được ghi chính mã của thủ tục này (1.001612)"),
    ],
)
def test_withdrawal_problems_name_their_path(change: dict[str, Any], expected: str) -> None:
    _, problems = check_entry(entry_data(**change))
    assert any(p.startswith(expected) for p in problems), problems
