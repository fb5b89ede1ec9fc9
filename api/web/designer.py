"""The procedure designer's pages (issue 18 point 5), for the administrator: a procedure authored as data — its
catalogue entry, its BPMN process in the vendored bpmn-js modeler, its application form (JSON Schema, previewed
live with the desk's own field template) and its result template (previewed as a PDF) — checked and published.

Every use case is :class:`services.procedure_design.ProcedureDesigner` (``runtime.designer``): it keeps the draft,
checks it, publishes it (files in the agency catalogue, the engine deployment, the procedure row) and records each
change in the audit log. These routes only read forms and draw pages: each action is a POST form with the session's
CSRF token and lands back on the designer with a Vietnamese message; a refusal is shown on the page (422/404/409),
never a 500. The two previews are POSTs too (they carry unsaved text) and answer with a fragment or a PDF.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.downloads import content_disposition
from api.web.desk import form_helpers
from api.web.labels import ROLES, STEPS, topic_label
from api.web.render import environment, language, page, parse_day
from api.web.routes import form_of, signed_in
from dossiers.agencies import TWO_TIER_FROM
from dossiers.calendar import VN_TZ
from dossiers.catalogue import PAPER_FORM_NAMES
from dossiers.errors import InvalidInput, MotcuaError
from dossiers.model import AgencyLevel, AgencyStructure, Person, Role, structure_in_force

MAX_JSON = 512 * 1024  # one form schema, result template or catalogue entry as text
MAX_BPMN = 2 * 1024 * 1024
MAX_BUNDLE = 4 * 1024 * 1024
CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.]{0,29}$")
PAPER_KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
LEVELS = {"province": "Cấp tỉnh", "district": "Cấp huyện", "commune": "Cấp xã"}
UNITS = {"working_days": "Ngày làm việc", "calendar_days": "Ngày (theo lịch)", "same_day": "Trong ngày"}
CHANNELS = {"counter": "Nộp trực tiếp", "online": "Nộp trực tuyến", "postal": "Qua bưu chính công ích"}
ORIGINS = {
    "built_in": "Thủ tục có sẵn",
    "agency": "Thủ tục của cơ quan",
    "new": "Thủ tục mới",
    "import": "Nhập từ tệp",
}
# the steps the desk relies on by id (services/tasks, signatures, fees, officials' pages): a user task of the
# designer is one of them, or an ordinary step ("")
STANDARD_STEPS = ("review", "approve", "sign_result", "register_number", "return_result")
SAVED = {
    "moi": ("Đã tạo bản nháp thủ tục mới.", "The new procedure's draft was created."),
    "nhap": ("Đã nhập thủ tục từ tệp thành bản nháp; hãy kiểm tra rồi công bố.", "Imported as a draft."),
    "danh-muc": ("Đã lưu thông tin danh mục của bản nháp.", "The catalogue entry was saved."),
    "quy-trinh": ("Đã lưu quy trình.", "The process was saved."),
    "bieu-mau": ("Đã lưu biểu mẫu.", "The form was saved."),
    "mau-ket-qua": ("Đã lưu mẫu kết quả.", "The result template was saved."),
    "cong-bo": ("Đã công bố thủ tục; bộ phận một cửa nhận hồ sơ theo phiên bản mới.", "Published."),
}
# "Thêm bước tiếp theo": the kinds of step an administrator appends without knowing BPMN (designer.js builds them)
STEP_KINDS: tuple[dict[str, str], ...] = (
    {"kind": "accept", "type": "bpmn:ServiceTask", "id": "accept", "topic": "dossier.accept"},
    {"kind": "issue_receipt", "type": "bpmn:ServiceTask", "id": "issue_receipt", "topic": "documents.receipt"},
    {"kind": "review", "type": "bpmn:UserTask", "id": "review", "role": "specialist", "due": "1"},
    {"kind": "approve", "type": "bpmn:UserTask", "id": "approve", "role": "leader", "due": "1"},
    {"kind": "prepare_result", "type": "bpmn:ServiceTask", "id": "prepare_result", "topic": "result.prepare"},
    {"kind": "sign_result", "type": "bpmn:UserTask", "id": "sign_result", "role": "leader", "due": "1"},
    {"kind": "register_number", "type": "bpmn:UserTask", "id": "register_number", "role": "clerk", "due": "1"},
    {"kind": "seal_result", "type": "bpmn:ServiceTask", "id": "seal_result", "topic": "result.seal"},
    {"kind": "result_ready", "type": "bpmn:ServiceTask", "id": "result_ready", "topic": "dossier.result_ready"},
    {"kind": "return_result", "type": "bpmn:UserTask", "id": "return_result", "role": "reception"},
    {"kind": "close", "type": "bpmn:ServiceTask", "id": "close", "topic": "dossier.close"},
    {"kind": "end", "type": "bpmn:EndEvent", "id": "returned"},
)
STEP_KIND_NAMES = {
    "accept": "Ghi nhận hồ sơ",
    "issue_receipt": "Lập giấy tiếp nhận (Mẫu 01)",
    "review": "Thẩm định (chuyên viên)",
    "approve": "Lãnh đạo phê duyệt",
    "prepare_result": "Lập văn bản kết quả",
    "sign_result": "Lãnh đạo ký số",
    "register_number": "Văn thư vào sổ",
    "seal_result": "Đóng dấu cơ quan",
    "result_ready": "Chuyển kết quả",
    "return_result": "Trả kết quả",
    "close": "Kết thúc hồ sơ",
    "end": "Sự kiện kết thúc",
}
STEP_KIND_TITLES = {  # the name the appended element gets (what the officials' task list shows)
    **{k: v[0] for k, v in STEPS.items()},
    "close": "Kết thúc hồ sơ",
    "end": "Đã trả kết quả",
}


def levels_on(structures: Sequence[AgencyStructure], day: dt.date) -> dict[str, str]:
    """The levels of local government that exist on ``day`` (a rule version's first day): the structure in force
    then says how many tiers; since 1 July 2025 there are two, no district. A day no structure covers: three
    before :data:`TWO_TIER_FROM`, two from it."""
    try:
        tiers = structure_in_force(tuple(structures), day).tiers
    except LookupError:
        tiers = 3 if day < TWO_TIER_FROM else 2
    return {k: v for k, v in LEVELS.items() if tiers == 3 or k != AgencyLevel.DISTRICT.value}


def draft_version_day(entry: Mapping[str, Any], default: dt.date) -> dt.date:
    """The first day of the draft version (the entry's last), ``default`` when it has none readable."""
    versions = entry.get("versions")
    last = versions[-1] if isinstance(versions, list) and versions and isinstance(versions[-1], dict) else {}
    try:
        return dt.date.fromisoformat(str(last.get("valid_from")))
    except ValueError:
        return default


def _text(form: dict[str, Any], name: str, limit: int = 200) -> str:
    value = form.get(name)
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def _values(form: dict[str, Any], name: str) -> list[str]:
    value = form.get(name)
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str)]


def _json_field(form: dict[str, Any], name: str, what: str) -> dict[str, Any]:
    """A JSON object typed in a textarea; a syntax error is named with its line and column, in Vietnamese."""
    raw = form.get(name)
    text = raw if isinstance(raw, str) else ""
    if not text.strip():
        raise InvalidInput(f"Hãy nhập {what} (JSON).", f"Enter the {what} as JSON.")
    if len(text) > MAX_JSON:
        raise InvalidInput(f"{what.capitalize()} quá dài (tối đa {MAX_JSON // 1024} KB).", "The JSON is too long.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = _json_reason(exc.msg)
        raise InvalidInput(
            f"{what.capitalize()} không phải JSON hợp lệ: dòng {exc.lineno}, cột {exc.colno} ({reason}).",
            f"Not valid JSON: line {exc.lineno}, column {exc.colno} ({exc.msg}).",
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{what.capitalize()} phải là một đối tượng JSON {{…}}.", "The JSON must be an object.")
    return data


JSON_REASONS = {
    "Expecting value": "thiếu giá trị",
    "Expecting property name enclosed in double quotes": "tên mục phải đặt trong dấu nháy kép",
    "Expecting ',' delimiter": "thiếu dấu phẩy",
    "Expecting ':' delimiter": "thiếu dấu hai chấm",
    "Extra data": "thừa nội dung sau đối tượng",
    "Unterminated string starting at": "chuỗi chưa đóng nháy",
    "Invalid control character at": "ký tự điều khiển không hợp lệ",
}


def _json_reason(message: str) -> str:
    return JSON_REASONS.get(message, "lỗi cú pháp")


def _int(text: str, what: str, low: int = 0, high: int = 10**12) -> int:
    cleaned = text.replace(".", "").replace(" ", "")
    if not cleaned.isdigit() or not low <= int(cleaned) <= high:
        raise InvalidInput(f"{what} phải là số nguyên từ {low} đến {high:,}.".replace(",", "."), f"{what}: a number.")
    return int(cleaned)


def _slug(name: str, index: int) -> str:
    """A paper's key from its name (the catalogue needs one; the administrator types only the name)."""
    folded = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_text = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    key = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")[:40]
    return key if key and key[0].isalpha() else f"giay_to_{index + 1}"


def entry_from_form(entry: dict[str, Any], form: dict[str, Any], offered: Mapping[str, str] = LEVELS) -> dict[str, Any]:
    """The draft's catalogue entry with the structured form's values written into it and into its LAST version
    (the draft version); the published versions and every key the form does not show are kept. ``offered``: the
    levels that exist on the draft version's first day (:func:`levels_on`)."""
    updated: dict[str, Any] = json.loads(json.dumps(entry))
    name = _text(form, "name", 500)
    if not name:
        raise InvalidInput("Hãy nhập tên thủ tục.", "Enter the procedure's name.")
    updated["name"] = name
    updated["field"] = _text(form, "field", 200) or updated.get("field", "")
    channels = [c for c in _values(form, "channels") if c in CHANNELS]
    if not channels:
        raise InvalidInput("Hãy chọn ít nhất một kênh nộp hồ sơ.", "Choose at least one channel.")
    updated["channels"] = channels
    versions = updated.get("versions")
    if not isinstance(versions, list) or not versions or not isinstance(versions[-1], dict):
        raise InvalidInput("Bản nháp không có phiên bản quy định để sửa.", "The draft has no rule version.")
    version = versions[-1]
    gone = [LEVELS[level] for level in _values(form, "levels") if level in LEVELS and level not in offered]
    if gone:
        raise InvalidInput(
            f"{gone[0]} không có trong chính quyền địa phương vào ngày hiệu lực của phiên bản; hãy chọn trong: "
            f"{', '.join(offered.values())}.",
            "That level does not exist on the version's first day.",
        )
    levels = [level for level in _values(form, "levels") if level in LEVELS]
    if not levels:
        raise InvalidInput("Hãy chọn ít nhất một cấp thực hiện.", "Choose at least one level.")
    version["levels"] = levels
    unit = _text(form, "unit", 20)
    if unit not in UNITS:
        raise InvalidInput("Đơn vị thời hạn không hợp lệ.", "Unknown time unit.")
    days = 0 if unit == "same_day" else _int(_text(form, "days", 6), "Thời hạn giải quyết", 1, 3650)
    version["time_limit"] = {"days": days, "unit": unit}
    province_fee = bool(_text(form, "fee_by_province", 5))
    version["fee_set_by"] = "province" if province_fee else "national"
    version["fee_vnd"] = 0 if province_fee else _int(_text(form, "fee_vnd", 20) or "0", "Lệ phí", 0, 10**11)
    version["legal_source"] = _text(form, "legal_source", 4000)
    papers: list[dict[str, Any]] = []
    indexes = sorted({int(k.split(".")[1]) for k in form if re.fullmatch(r"paper\.\d{1,3}\.name", k)})
    for i in indexes:
        paper_name = _text(form, f"paper.{i}.name", 1000)
        if not paper_name or _text(form, f"paper.{i}.remove", 5):
            continue
        key = _text(form, f"paper.{i}.key", 60)
        key = key if PAPER_KEY.fullmatch(key) else _slug(paper_name, len(papers))
        while any(p["key"] == key for p in papers):
            key = f"{key}_{len(papers) + 1}"
        paper_form = _text(form, f"paper.{i}.form", 30)
        papers.append(
            {
                "key": key,
                "name": paper_name,
                "form": paper_form if paper_form in PAPER_FORM_NAMES else "original_or_copy",
                "count": _int(_text(form, f"paper.{i}.count", 3) or "1", "Số lượng giấy tờ", 1, 99),
                "mandatory": bool(_text(form, f"paper.{i}.mandatory", 5)),
            }
        )
    version["papers"] = papers
    kinds = [k for k in _values(form, "specialist_departments") if re.fullmatch(r"[A-Z0-9]{1,20}", k)]
    departments = dict(updated.get("departments") or {})
    if kinds:
        departments["specialist"] = kinds
    else:
        departments.pop("specialist", None)
    if departments:
        updated["departments"] = departments
    else:
        updated.pop("departments", None)
    return updated


def shown(problems: list[str] | None, lang: str) -> list[str] | None:
    """The check's problems are written "Vietnamese / English": a Vietnamese page shows the first part only."""
    if problems is None or lang == "en":
        return problems
    return [p.rsplit(" / ", 1)[0] if " / " in p else p for p in problems]


def _bundle_of(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput(
            "Tệp không phải tệp thủ tục (JSON UTF-8 do Motcua xuất).", "The file is not a procedure file (JSON)."
        ) from None


def designer_router(runtime: Any) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def admin(request: Request) -> Person:
        return signed_in(request, runtime, Role.ADMIN)

    def today() -> dt.date:
        day: dt.date = runtime.clock.now().astimezone(VN_TZ).date()
        return day

    def palette_context() -> dict[str, Any]:
        palette = runtime.designer.palette()
        roles = [[group, label or ROLES.get(group, (group,))[0]] for group, label in palette.roles]
        topics = [[topic, topic_label(topic)[0]] for topic in palette.topics]
        steps = [[""] + ["Bước xử lý thông thường"]] + [[s, STEPS[s][0]] for s in STANDARD_STEPS]
        kinds = [{**k, "label": STEP_KIND_NAMES[k["kind"]], "name": STEP_KIND_TITLES[k["kind"]]} for k in STEP_KINDS]
        return {"roles": roles, "topics": topics, "steps": steps, "kinds": kinds}

    def department_kinds() -> dict[str, str]:
        """The kinds of department (the code's mnemonic after the agency's code) that act as specialists in the
        structure in force, each with the first name seen: an entry names which of them handle its review."""
        kinds: dict[str, str] = {}
        for agency in runtime.shop.structure_now().agencies:
            for code in agency.departments_for_role(Role.SPECIALIST.value):
                department = agency.department(code)
                mnemonic = code.rsplit("-", 1)[-1]
                if department is not None and mnemonic not in kinds:
                    kinds[mnemonic] = department.name
        return kinds

    def designer_page(
        request: Request, person: Person, code: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        draft = runtime.designer.draft(code)
        entry = draft.entry
        versions = entry.get("versions") or [{}]
        version = versions[-1] if isinstance(versions[-1], dict) else {}
        published = versions[:-1] if draft.published else []
        problems = shown(context.pop("check_problems", None), language(request))
        if "problems" in context:
            context["problems"] = shown(context["problems"], language(request))
        preview_form, preview_problems = (None, [])
        if draft.form:
            preview_form, preview_problems = runtime.designer.preview_form(draft.form)
            preview_problems = shown(preview_problems, language(request)) or []
        return page(
            request,
            runtime,
            "admin/designer.html",
            status_code=status_code,
            person=person,
            draft=draft,
            entry=entry,
            version=version,
            published_versions=published,
            publications=runtime.designer.publications(code),
            palette_json=json.dumps(palette_context(), ensure_ascii=False).replace("</", "<\\/"),
            form_json=context.pop("form_text", None) or json.dumps(draft.form or {}, ensure_ascii=False, indent=2),
            template_json=context.pop("template_text", None)
            or json.dumps(draft.result_template or {}, ensure_ascii=False, indent=2),
            check_problems=problems,
            levels=levels_on(runtime.shop.structures, draft_version_day(entry, today())),
            units=UNITS,
            channels=CHANNELS,
            paper_forms=PAPER_FORM_NAMES,
            department_kinds=department_kinds(),
            origins=ORIGINS,
            today=today(),
            preview_form=preview_form,
            preview_problems=preview_problems,
            values={},
            errors={},
            **form_helpers(),
            **context,
        )

    def refused(request: Request, person: Person, code: str, exc: MotcuaError, **context: Any) -> Response:
        status = {"not_found": 404, "conflict": 409, "forbidden": 403}.get(exc.kind, 422)
        try:
            return designer_page(request, person, code, status, error=(exc.message_vi, exc.message_en), **context)
        except MotcuaError:  # no draft and no procedure: the catalogue page says so
            return catalogue_refused(request, person, exc)

    def catalogue_refused(request: Request, person: Person, exc: MotcuaError) -> Response:
        status = {"not_found": 404, "conflict": 409, "forbidden": 403}.get(exc.kind, 422)
        return page(
            request,
            runtime,
            "admin/designer_error.html",
            status_code=status,
            person=person,
            error=(exc.message_vi, exc.message_en),
        )

    def back(code: str, saved: str, section: str) -> RedirectResponse:
        return RedirectResponse(f"/quan-tri/thu-tuc/{quote(code)}/thiet-ke?da_luu={saved}#{section}", status_code=303)

    # ------------------------------------------------------------------ the page

    @router.get("/quan-tri/thu-tuc/{code}/thiet-ke", response_class=HTMLResponse)
    async def designer(request: Request, code: str, da_luu: str | None = None, kiem_tra: str | None = None) -> Response:
        person = admin(request)
        saved = SAVED.get(da_luu or "")
        try:
            problems = await run_in_threadpool(runtime.designer.check, code) if kiem_tra else None
            return await run_in_threadpool(
                lambda: designer_page(request, person, code, saved=saved, check_problems=problems)
            )
        except MotcuaError as exc:
            return catalogue_refused(request, person, exc)

    # ------------------------------------------------------------------ new, import, export, discard

    @router.post("/quan-tri/thu-tuc/moi", response_class=HTMLResponse)
    async def new_procedure(request: Request) -> Response:
        person = admin(request)
        form = await form_of(request, runtime)
        code, name = _text(form, "code", 30), _text(form, "name", 500)
        start = _text(form, "start_from", 80)
        try:
            if not CODE.fullmatch(code):
                raise InvalidInput(
                    "Mã thủ tục gồm chữ số và dấu chấm, ví dụ 9.999001.", "A procedure code is digits and dots."
                )
            if not name:
                raise InvalidInput("Hãy nhập tên thủ tục.", "Enter the procedure's name.")
            await run_in_threadpool(runtime.designer.new, code, name, person.username, start or None)
        except MotcuaError as exc:
            return catalogue_refused(request, person, exc)
        return back(code, "moi", "danh-muc")

    @router.post("/quan-tri/thu-tuc/nhap", response_class=HTMLResponse)
    async def import_procedure(request: Request) -> Response:
        person = admin(request)
        form = await form_of(request, runtime)
        upload = form.get("bundle")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise InvalidInput("Hãy chọn tệp thủ tục.", "Choose the procedure file.")
            data = await upload.read(MAX_BUNDLE + 1)
            if len(data) > MAX_BUNDLE:
                raise InvalidInput(
                    f"Tệp thủ tục quá lớn (tối đa {MAX_BUNDLE // (1024 * 1024)} MB).", "The file is too large."
                )
            draft = await run_in_threadpool(runtime.designer.import_bundle, _bundle_of(data), person.username)
        except MotcuaError as exc:
            return catalogue_refused(request, person, exc)
        return back(draft.code, "nhap", "danh-muc")

    @router.get("/quan-tri/thu-tuc/{code}/tai-ve")
    async def export_procedure(request: Request, code: str) -> Response:
        person = admin(request)
        try:
            bundle = await run_in_threadpool(runtime.designer.export, code)
        except MotcuaError as exc:
            return catalogue_refused(request, person, exc)
        name = str((bundle.get("entry") or {}).get("name") or "") if isinstance(bundle, dict) else ""
        filename = f"Thủ tục {code} - {name}"[:150].rstrip() + ".json"
        return Response(
            json.dumps(bundle, ensure_ascii=False, indent=2).encode("utf-8"),
            media_type="application/json",
            headers={"Content-Disposition": content_disposition(filename), "Cache-Control": "no-store"},
        )

    @router.post("/quan-tri/thu-tuc/{code}/thiet-ke/huy", response_class=HTMLResponse)
    async def discard(request: Request, code: str) -> Response:
        person = admin(request)
        await form_of(request, runtime)
        try:
            await run_in_threadpool(runtime.designer.discard, code, person.username)
        except MotcuaError as exc:
            return refused(request, person, code, exc)
        return RedirectResponse(f"/quan-tri/thu-tuc?da_huy={quote(code)}", status_code=303)

    # ------------------------------------------------------------------ the four parts

    @router.post("/quan-tri/thu-tuc/{code}/thiet-ke/danh-muc", response_class=HTMLResponse)
    async def save_entry(request: Request, code: str) -> Response:
        person = admin(request)
        form = await form_of(request, runtime)
        try:
            draft = await run_in_threadpool(runtime.designer.draft, code)
            offered = levels_on(runtime.shop.structures, draft_version_day(draft.entry, today()))
            entry = entry_from_form(draft.entry, form, offered)
            await run_in_threadpool(lambda: runtime.designer.save(code, person.username, entry=entry))
        except MotcuaError as exc:
            return refused(request, person, code, exc)
        return back(code, "danh-muc", "danh-muc")

    @router.post("/quan-tri/thu-tuc/{code}/thiet-ke/quy-trinh", response_class=HTMLResponse)
    async def save_process(request: Request, code: str) -> Response:
        person = admin(request)
        form = await form_of(request, runtime)
        xml = form.get("bpmn_xml")
        try:
            if not isinstance(xml, str) or not xml.strip():
                raise InvalidInput("Quy trình trống, chưa lưu.", "The process is empty.")
            if len(xml) > MAX_BPMN:
                raise InvalidInput("Quy trình quá lớn (tối đa 2 MB).", "The process is too large.")
            await run_in_threadpool(lambda: runtime.designer.save(code, person.username, bpmn_xml=xml))
        except MotcuaError as exc:
            return refused(request, person, code, exc)
        return back(code, "quy-trinh", "quy-trinh")

    async def save_json_part(request: Request, code: str, field: str, what: str, part: str, anchor: str) -> Response:
        """Save one JSON part of the draft (the form schema or the result template) from its editor; refused, the
        page comes back with the text as typed and the section marked unsaved."""
        person = admin(request)
        form = await form_of(request, runtime)
        text = form.get(field) if isinstance(form.get(field), str) else ""
        try:
            value = _json_field(form, field, what)
            await run_in_threadpool(lambda: runtime.designer.save(code, person.username, **{part: value}))
        except MotcuaError as exc:
            typed = {("form_text" if part == "form" else "template_text"): str(text)[: MAX_JSON + 20]}
            return refused(request, person, code, exc, unsaved=anchor, **typed)
        return back(code, anchor, anchor)

    @router.post("/quan-tri/thu-tuc/{code}/thiet-ke/bieu-mau", response_class=HTMLResponse)
    async def save_form(request: Request, code: str) -> Response:
        return await save_json_part(request, code, "form_json", "biểu mẫu", "form", "bieu-mau")

    @router.post("/quan-tri/thu-tuc/{code}/thiet-ke/mau-ket-qua", response_class=HTMLResponse)
    async def save_template(request: Request, code: str) -> Response:
        return await save_json_part(request, code, "template_json", "mẫu kết quả", "result_template", "mau-ket-qua")

    # ------------------------------------------------------------------ previews

    @router.post("/quan-tri/thu-tuc/{code}/thiet-ke/xem-truoc-bieu-mau", response_class=HTMLResponse)
    async def preview_form(request: Request, code: str) -> Response:
        """The form as the desk would draw it, from the unsaved text: a fragment designer.js puts in the page."""
        admin(request)
        form = await form_of(request, runtime)
        lang = language(request)

        def t(vi: str, en: str | None = None) -> str:
            return en if lang == "en" and en else vi

        parsed, problems = None, []
        try:
            schema = _json_field(form, "form_json", "biểu mẫu")
            parsed, problems = await run_in_threadpool(runtime.designer.preview_form, schema)
            problems = shown(problems, lang) or []
        except MotcuaError as exc:
            problems = [exc.message_vi]
        html = environment.get_template("admin/designer_form_preview.html").render(
            t=t,
            preview_form=parsed,
            preview_problems=problems,
            values={},
            errors={},
            limits=environment.globals["limits"],
            day_input=environment.globals["day_input"],
            **form_helpers(),
        )
        return HTMLResponse(
            html,
            status_code=200 if parsed is not None and not problems else 422,
            headers={"Cache-Control": "no-store", "Content-Language": lang},
        )

    @router.post("/quan-tri/thu-tuc/{code}/thiet-ke/xem-truoc-ket-qua")
    async def preview_result(request: Request, code: str) -> Response:
        """The result template (unsaved text) rendered with the form's sample data, shown in the page's frame; a
        bad template answers with its problems (line and field) in the same frame."""
        admin(request)
        form = await form_of(request, runtime)
        frame = {"Cache-Control": "no-store", "Content-Security-Policy": "frame-ancestors 'self'"}
        try:
            template = _json_field(form, "template_json", "mẫu kết quả")
            schema: Any = None
            if isinstance(form.get("form_json"), str) and form["form_json"].strip():
                schema = _json_field(form, "form_json", "biểu mẫu")
            pdf = await run_in_threadpool(runtime.designer.preview_result, code, template, schema)
        except MotcuaError as exc:
            listed = exc.details.get("problems")
            problems = shown([str(p) for p in listed] if isinstance(listed, list) else [], "vi") or []
            html = environment.get_template("admin/designer_result_problems.html").render(
                t=lambda vi, en=None: vi, message=exc.message_vi, problems=problems
            )
            return HTMLResponse(html, status_code=422, headers={**frame, "X-Frame-Options": "SAMEORIGIN"})
        disposition = content_disposition(f"xem-truoc-ket-qua-{code}.pdf", inline=True)
        return Response(pdf, media_type="application/pdf", headers={**frame, "Content-Disposition": disposition})

    # ------------------------------------------------------------------ publish

    @router.post("/quan-tri/thu-tuc/{code}/thiet-ke/cong-bo", response_class=HTMLResponse)
    async def publish(request: Request, code: str) -> Response:
        person = admin(request)
        form = await form_of(request, runtime)
        typed = _text(form, "valid_from", 20)
        day = parse_day(typed) if typed else today()
        try:
            if day is None:
                raise InvalidInput(
                    f"Ngày '{typed}' không hợp lệ; hãy nhập theo dạng ngày/tháng/năm, ví dụ {today():%d/%m/%Y}.",
                    f"'{typed}' is not a day.",
                )
            await run_in_threadpool(runtime.designer.publish, code, person.username, day)
        except MotcuaError as exc:
            listed = exc.details.get("problems")
            problems = [str(p) for p in listed] if isinstance(listed, list) else []
            return refused(request, person, code, exc, problems=problems, valid_from_text=typed)
        return RedirectResponse(f"/quan-tri/thu-tuc/{quote(code)}/thiet-ke?da_luu=cong-bo#cong-bo", status_code=303)

    return router
