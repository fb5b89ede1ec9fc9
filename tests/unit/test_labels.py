"""Every identifier the code writes has words for the pages (api/web/labels.py): the audit event kinds and the
document kinds are collected from the source itself, so a new kind without a label fails here; unknown keys read
as a generic Vietnamese sentence, never as the key; days are read as people type them; download names are
Vietnamese with an ASCII fallback."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import pytest

from api.downloads import ascii_name, content_disposition, download_name
from api.web import labels
from api.web.render import parse_day
from dossiers.model import DossierStatus, Person, Role

ROOT = Path(__file__).resolve().parents[2]
SOURCE_PACKAGES = ("services", "workers", "persistence", "motcua", "api", "integrations", "workflows", "dossiers")


@lru_cache(maxsize=1)
def _sources() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple(
        (path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for package in SOURCE_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    )


@lru_cache(maxsize=1)
def _module_constants() -> dict[str, set[str]]:
    """NAME → the string values module-level ``NAME = "…"`` assignments give it, in any module."""
    found: dict[str, set[str]] = {}
    for _path, tree in _sources():
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, set()).add(node.value.value)
    return found


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _resolve(expr: ast.expr, function: ast.AST | None, constants: dict[str, set[str]]) -> set[str] | None:
    """The strings ``expr`` can be; None when it cannot be told from the source (a parameter: the callers say)."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        body, orelse = _resolve(expr.body, function, constants), _resolve(expr.orelse, function, constants)
        return None if body is None or orelse is None else body | orelse
    if isinstance(expr, ast.Name):
        local: set[str] = set()
        if function is not None:
            for node in ast.walk(function):
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == expr.id for t in node.targets
                ):
                    local |= _resolve(node.value, function, constants) or set()
            if not local and expr.id in {a.arg for a in function.args.args + function.args.kwonlyargs}:
                return None  # a parameter: its callers are collected where they pass a literal
        return local or constants.get(expr.id) or set()
    return set()


def _calls(names: set[str]) -> Iterator[tuple[Path, ast.Call, ast.AST | None]]:
    for path, tree in _sources():
        owner: dict[int, ast.AST] = {}
        for function in _functions(tree):
            for node in ast.walk(function):
                owner.setdefault(id(node), function)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if name in names:
                    yield path, node, owner.get(id(node))


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[index] if len(call.args) > index else None


def recorded_event_kinds() -> dict[str, str]:
    """kind → where it is recorded: ``record(kind, …)``, ``record_once(key, result, kind, …)``, ``AuditEvent``."""
    constants = _module_constants()
    kinds: dict[str, str] = {}
    unresolved: list[str] = []
    positions = {"record": (0, "event_kind"), "record_once": (2, "event_kind"), "AuditEvent": (0, "kind")}
    for path, call, function in _calls(set(positions)):
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        expr = _argument(call, *positions[name])
        if expr is None:
            continue
        values = _resolve(expr, function, constants)
        where = f"{path.relative_to(ROOT)}:{call.lineno}"
        if values is None:
            continue
        if not values and isinstance(expr, ast.Name):  # (an attribute or subscript copies a stored entry's kind)
            unresolved.append(f"{where}: {ast.unparse(expr)}")
        for value in values:
            if "." in value:  # event kinds are "<subject>.<verb>"
                kinds.setdefault(value, where)
    assert not unresolved, "event kinds the test cannot read from the source:\n" + "\n".join(unresolved)
    return kinds


def stored_document_kinds() -> dict[str, str]:
    """kind → where a document of that kind is stored or issued."""
    constants = _module_constants()
    kinds: dict[str, str] = {}
    positions = {"insert_document": (2, "kind"), "issue_sealed_form": (1, "kind"), "IssueRequest": (1, "kind")}
    for path, call, function in _calls(set(positions) | {"IssueRequest"}):
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        expr = _argument(call, *positions[name])
        for value in (_resolve(expr, function, constants) or set()) if expr is not None else set():
            kinds.setdefault(value, f"{path.relative_to(ROOT)}:{call.lineno}")
    # a personal signature stores "<document_kind>_draft" (services/signatures.py)
    for path, call, function in _calls({"prepare", "prepare_signature", "request_signature", "PendingSignature"}):
        expr = _argument(call, 99, "document_kind")
        for value in (_resolve(expr, function, constants) or set()) if expr is not None else set():
            kinds.setdefault(f"{value}_draft", f"{path.relative_to(ROOT)}:{call.lineno}")
    for _path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "document_kind":
                for value in _resolve(node.value, None, constants) or set():
                    kinds.setdefault(f"{value}_draft", "document_kind=")
    return kinds


# ---------------------------------------------------------------------- the tables cover what the code writes


def test_the_collection_finds_the_kinds_it_should() -> None:
    """The AST walk sees literal kinds, module constants and conditional kinds (or the checks below prove nothing)."""
    kinds = recorded_event_kinds()
    for expected in ("dossier.received", "task.completed", "exchange.delivered", "payment.failed", "step.escalated"):
        assert expected in kinds, expected
    assert "admin.user_deactivated" in kinds and "admin.user_reactivated" in kinds  # a local variable's values
    documents = stored_document_kinds()
    for expected in ("upload", "supplement", "receipt", "refusal", "scan_copy", "tax_notice", "result_draft"):
        assert expected in documents, expected


def test_every_event_kind_the_code_records_has_a_label() -> None:
    missing = {kind: where for kind, where in recorded_event_kinds().items() if kind not in labels.EVENTS}
    assert not missing, f"add these event kinds to api/web/labels.py EVENTS: {missing}"


def test_every_document_kind_the_code_stores_has_a_label() -> None:
    missing = {kind: where for kind, where in stored_document_kinds().items() if kind not in labels.DOCUMENT_KINDS}
    assert not missing, f"add these document kinds to api/web/labels.py DOCUMENT_KINDS: {missing}"


def test_every_status_and_role_has_a_label() -> None:
    for state in DossierStatus:
        assert labels.status(state.value) != labels.UNKNOWN_STATUS, state
        assert labels.STATUS_EN.get(state.value), state
    for role in Role:
        assert role.value in labels.ROLES, role


def test_labels_are_vietnamese_sentences_not_identifiers() -> None:
    tables: list[dict[str, tuple[str, str]]] = [
        dict(labels.EVENTS),
        dict(labels.DOCUMENT_KINDS),
        dict(labels.DECISIONS),
        dict(labels.CHANNELS),
        dict(labels.ROLES),
        dict(labels.DETAIL_KEYS),
        dict(labels.STEPS),
    ]
    for table in tables:
        for key, (vi, en) in table.items():
            assert vi and en and vi != key and "_" not in vi, (key, vi)
            assert vi[0].isupper(), (key, vi)


# ---------------------------------------------------------------------- unknown keys, people, steps, details


class _Accounts:
    def list(self) -> list[Person]:
        return [Person("chuyenvien1.xa1", "Trần Thị Bình", Role.SPECIALIST, "X", "D")]


def _labels(lang: str = "vi") -> labels.Labels:
    shop = SimpleNamespace(
        dossier_row=lambda code: (_ for _ in ()).throw(LookupError(code)), bpmn_dirs=[ROOT / "workflows" / "bpmn"]
    )
    return labels.Labels(SimpleNamespace(accounts=_Accounts(), shop=shop), lang)


def test_unknown_keys_read_as_a_generic_sentence() -> None:
    page = _labels()
    assert page.event("weird.kind") == "Sự kiện khác"
    assert page.document("mystery_kind") == "Tài liệu khác"
    assert page.decision("maybe") == "Quyết định khác"
    assert page.channel("pigeon") == "Kênh khác"
    assert page.status("frozen") == "Trạng thái khác"
    assert page.step("no_such_step") == "Bước xử lý khác"
    assert page.event("dossier.received") == "Tiếp nhận hồ sơ"
    assert _labels("en").event("dossier.received") == "Dossier received"


def test_people_are_named_with_their_title_and_systems_are_the_system() -> None:
    page = _labels()
    assert page.person("chuyenvien1.xa1") == "Trần Thị Bình (Chuyên viên)"
    assert page.person("system:worker") == "Hệ thống"
    assert page.person("system:anything-new") == "Hệ thống"
    assert page.person("public") == "Công dân (trang tra cứu công khai)"
    assert page.person("lanhdao@so-xay-dung") == "Cán bộ cơ quan phối hợp (liên thông)"
    assert page.signer("person:chuyenvien1.xa1") == "Trần Thị Bình (Chuyên viên)"
    assert page.signer("agency:000.00.31.H99") == "Con dấu điện tử của cơ quan"  # no structure to name it from
    unknown = page.person("ghost.account")
    assert "ghost" not in unknown and unknown == "Tài khoản không còn trong hệ thống"


def test_a_step_id_becomes_the_name_in_the_dossiers_bpmn() -> None:
    """The dossier's own process names its steps (the BPMN ``name``); without it the shared generic name."""
    names = labels.process_step_names("household_business_registration", [ROOT / "workflows" / "bpmn"])
    assert names["review"] == "Thẩm định hồ sơ đăng ký hộ kinh doanh"
    page = _labels()
    page._dossiers["D1"] = (names, {"giay_de_nghi": "Giấy đề nghị đăng ký hộ kinh doanh"})
    assert page.step("review", "D1") == "Thẩm định hồ sơ đăng ký hộ kinh doanh"
    assert page.step("escalate_review", "D1") == "Thẩm định hồ sơ đăng ký hộ kinh doanh"
    assert page.step("accept") == "Ghi nhận hồ sơ, tính hạn giải quyết"  # the dossier cannot be read: generic
    assert page.paper("giay_de_nghi", "D1") == "Giấy đề nghị đăng ký hộ kinh doanh"
    assert page.paper("unknown_key", "D1") == "Giấy tờ khác"


def test_an_entrys_details_read_in_words() -> None:
    page = _labels()
    entry: dict[str, Any] = {
        "kind": "task.completed",
        "details": {
            "task": "accept",
            "decision": "approve",
            "status": "in_progress",
            "previous": "received",
            "due_at": "2026-03-06T10:00:00+00:00",
            "department": "VP",
            "comment": "Đủ điều kiện",
        },
    }
    rows = dict(page.details(entry))
    assert rows["Bước"] == "Ghi nhận hồ sơ, tính hạn giải quyết"
    assert rows["Quyết định"] == "Đồng ý, trình bước tiếp theo"
    assert rows["Trạng thái mới"] == "Đang giải quyết" and rows["Trạng thái trước"] == "Đã tiếp nhận"
    assert rows["Hạn giải quyết"] == "17:00 06/03/2026"  # Vietnam's time, day first
    assert rows["Ý kiến"] == "“Đủ điều kiện”"
    text = " ".join(f"{k} {v}" for k, v in rows.items())
    for internal in ("accept", "approve", "in_progress", "received", "department", "VP"):
        assert internal not in text.split(), internal
    brief = dict(page.details(entry, brief=True))
    assert "Trạng thái trước" not in brief and "Ý kiến" not in brief and brief["Bước"]


@pytest.mark.parametrize(
    ("message", "cause"),
    [
        ("NotFound: The key of agency H01 was not found in the development PKI (var/pki/agency/H01.p12)", "ký số"),
        ("OperationalError: could not connect to server: Connection refused", "kết nối"),
        ("OSError: [Errno 28] No space left on device", "ổ đĩa"),
        ("ValueError: something nobody foresaw\nTraceback (most recent call last): …", "dừng lại"),
    ],
)
def test_an_incident_is_explained_in_vietnamese(message: str, cause: str) -> None:
    explained = _labels().incident(message)
    assert cause in explained and "Error" not in explained and "Traceback" not in explained


# ---------------------------------------------------------------------- days and file names


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("25/12/1990", dt.date(1990, 12, 25)),
        ("5/7/2025", dt.date(2025, 7, 5)),
        ("05-07-2025", dt.date(2025, 7, 5)),
        ("05.07.2025", dt.date(2025, 7, 5)),
        ("05072025", dt.date(2025, 7, 5)),
        (" 2025-07-05 ", dt.date(2025, 7, 5)),  # old links and bookmarks
        ("31/02/2025", None),
        ("2025-02-31", None),
        ("07/2025", None),
        ("hôm nay", None),
        ("", None),
    ],
)
def test_days_are_read_day_first(typed: str, day: dt.date | None) -> None:
    assert parse_day(typed) == day


def test_days_are_shown_day_first() -> None:
    assert labels.day_text("1990-12-25") == "25/12/1990"
    assert labels.day_text(dt.date(2025, 7, 5)) == "05/07/2025"
    assert labels.day_text("not a day") == "not a day"


def test_downloads_are_named_in_vietnamese_with_an_ascii_fallback() -> None:
    code = "000.00.32.H01-260302-0001"
    assert download_name(code, "receipt", f"{code}-mau-01-giay-tiep-nhan.pdf") == (
        f"Mẫu 01 - Giấy tiếp nhận hồ sơ và hẹn trả kết quả - {code}.pdf"
    )
    assert download_name(code, "result_draft", f"{code}-result-leader.pdf").startswith("Kết quả đã ký")
    assert download_name(code, "upload", "đơn đề nghị.pdf") == "đơn đề nghị.pdf"  # the citizen's own name
    header = content_disposition(download_name(code, "refusal", "x.pdf"))
    ascii_part = header.split('filename="', 1)[1].split('"', 1)[0]
    assert ascii_part == f"Mau 03 - Phieu tu choi giai quyet ho so - {code}.pdf"
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == f"Mẫu 03 - Phiếu từ chối giải quyết hồ sơ - {code}.pdf"
    assert header.startswith("attachment;") and content_disposition("a.pdf", inline=True).startswith("inline;")
    assert ascii_name('bad"name\\;\r\n.pdf') == "bad_name_.pdf"
    assert ascii_name("đ" * 400 + ".pdf").endswith(".pdf") and len(ascii_name("đ" * 400 + ".pdf")) == 150
