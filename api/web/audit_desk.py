"""The auditor's desk (*thanh tra, kiểm tra*): verify a signed PDF, read a dossier's complete trail with the
verification of every document, and the statistics dashboard (QĐ 766 indicators) with SVG charts and exports.

Who: auditors and administrators read and verify everything; leaders see the statistics of their agency and
the agencies under it (the same rule as ``GET /api/statistics``: :func:`services.statistics.agency_scope`).
Nothing here changes a dossier: the POSTs are the upload of a PDF to verify, which stores nothing and is
recorded in the audit log (``signature.verified``) like ``POST /api/verify``, and a signed checkpoint of the
audit log's head on demand (``/thanh-tra/nhat-ky`` shows the chain's state, recomputed when the page opens).
Reads of a dossier are recorded too (``dossier.read``, ``document.read``: Decree 13/2023).

Exports: ``/api/statistics/export`` accepts only bearer tokens, so the page offers the same files at
``/thanh-tra/thong-ke/xuat`` with the session (same figures, same rules, same ``statistics.exported`` record).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import UploadFile

from api.charts import BarGroup, bar_chart, donut_chart
from api.downloads import content_disposition
from api.web.render import page, parse_day
from api.web.routes import form_of, signed_in
from dossiers.calendar import VN_TZ
from dossiers.errors import InvalidInput, MotcuaError, NotFound
from dossiers.model import STATUS_LABELS_VI, DossierStatus, Role
from dossiers.statistics import GROUP_HEADERS, UNASSIGNED, UNASSIGNED_LABEL, GroupBy, table
from services import statistics as stats
from services.uploads import Upload, check_upload
from services.verification import RecordedVerification
from signing.ades import ADES_TEXT
from signing.validate import PROBLEM_TEXT

DESK_ROLES = (Role.AUDITOR, Role.ADMIN)
STATISTICS_ROLES = (Role.LEADER, Role.AUDITOR, Role.ADMIN)
PDF = "application/pdf"

INDICATIONS = {
    "TOTAL-PASSED": ("ĐẠT", "passed", "ok"),
    "TOTAL-FAILED": ("KHÔNG ĐẠT", "failed", "error"),
    "INDETERMINATE": ("CHƯA XÁC ĐỊNH", "indeterminate", "notice"),
}
REVOCATION = {
    "GOOD": ("Chưa bị thu hồi", "not revoked"),
    "REVOKED": ("ĐÃ BỊ THU HỒI", "revoked"),
    "UNKNOWN": ("Chưa xác định", "not established"),
}
COVERAGE = {
    "ENTIRE_FILE": ("Toàn bộ tệp", "the entire file"),
    "ENTIRE_REVISION": ("Toàn bộ phiên bản đã ký, sau đó có cập nhật", "the entire signed revision, then updates"),
    "CONTIGUOUS_BLOCKS_ONLY": ("Chỉ một phần liên tục của tệp", "contiguous blocks only"),
    "UNCLEAR": ("Không rõ", "unclear"),
}
MODIFICATIONS = {
    "NONE": ("Không có thay đổi", "none"),
    "LTA_UPDATES": ("Chỉ bổ sung dữ liệu kiểm tra dài hạn (DSS, dấu thời gian)", "long-term validation updates"),
    "FORM_FILLING": ("Điền biểu mẫu, ký tiếp (được phép)", "form filling and signing"),
    "ANNOTATIONS": ("Thêm chú thích", "annotations"),
    "OTHER": ("Thay đổi khác (không được phép)", "other changes"),
    "UNKNOWN": ("Không xác định", "unknown"),
}
DOCMDP = {
    1: ("P=1: không cho phép thay đổi", "no changes allowed"),
    2: ("P=2: cho phép điền biểu mẫu và ký tiếp", "form filling and signing allowed"),
    3: ("P=3: cho phép điền biểu mẫu, ký và chú thích", "form filling, signing and annotations allowed"),
}
# What is wrong with the audit log, for people (the English sentence of the report is shown beside it).
CHAIN_PROBLEMS = {
    "changed": "Mục {seq} đã bị sửa đổi.",
    "missing": "Mục {seq} đã bị xóa khỏi nhật ký.",
    "reordered": "Thứ tự các mục bị đảo tại mục {seq}.",
    "extra": "Mục {seq} không thuộc chuỗi (bị chèn thêm).",
    "relinked": "Mục {seq} không nối tiếp mục trước: một mục đã bị viết lại và tính lại mã băm.",
    "truncated": "Các mục cuối của nhật ký, từ mục {seq}, đã bị xóa.",
    "head": "Bản ghi đầu chuỗi (mục mới nhất) bị mất hoặc bị sửa.",
    "checkpoint": "Điểm kiểm tra tại mục {seq} không khớp với nhật ký hoặc chữ ký không hợp lệ.",
}
CHAIN_NOTICES = {
    "da-tao": ("Đã tạo điểm kiểm tra của nhật ký.", "A checkpoint of the log was made."),
    "trong": ("Nhật ký chưa có mục nào: chưa thể tạo điểm kiểm tra.", "The log is empty: nothing to checkpoint."),
}

GROUP_BY_NAMES = {
    GroupBy.AGENCY: ("Cơ quan", "Agency"),
    GroupBy.DEPARTMENT: ("Phòng, ban", "Department"),
    GroupBy.PROCEDURE: ("Thủ tục hành chính", "Procedure"),
}


def _code_or_label(table_: dict[Any, tuple[str, ...]], key: Any) -> tuple[str, ...]:
    """The label of a code of the validation report; an unknown code is not shown as it is."""
    return table_.get(key) or ("Không xác định", "Not established")


def _helpers() -> dict[str, Any]:
    return {
        "indications": INDICATIONS,
        "revocation_names": REVOCATION,
        "coverage_names": COVERAGE,
        "modification_names": MODIFICATIONS,
        "docmdp_names": DOCMDP,
        "label": _code_or_label,
        "problem_names": {**PROBLEM_TEXT, **ADES_TEXT},
    }


def _cell(value: object) -> object:
    """A percentage (``Decimal``) written the Vietnamese way: 98,79."""
    return str(value).replace(".", ",") if isinstance(value, Decimal) else value


def _parse_day(text: str | None, default: dt.date, what: str) -> dt.date:
    """A day of the statistics form: dd/mm/yyyy as typed, or yyyy-mm-dd (the export links, old bookmarks)."""
    if not text:
        return default
    day = parse_day(text)
    if day is None:
        raise InvalidInput(
            f"Ngày '{text}' ({what}) không hợp lệ; hãy nhập theo dạng ngày/tháng/năm, ví dụ 01/07/2025.",
            f"'{text}' ({what}) is not a date day/month/year.",
        )
    return day


def audit_router(runtime: Any) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    shop = runtime.shop
    verification = RecordedVerification(shop, runtime.settings)  # the validator is built on first use

    def today() -> dt.date:
        day: dt.date = runtime.clock.now().astimezone(VN_TZ).date()
        return day

    def desk(request: Request, person: Any, status_code: int = 200, **context: Any) -> HTMLResponse:
        return page(
            request,
            runtime,
            "audit/desk.html",
            status_code=status_code,
            person=person,
            may_audit=person.role in DESK_ROLES,
            max_mb=runtime.settings.max_upload_bytes // (1024 * 1024),
            **context,
        )

    # ------------------------------------------------------------------ the desk and verification of an upload

    @router.get("/thanh-tra", response_class=HTMLResponse)
    def desk_page(request: Request, ma: str | None = None) -> Response:
        person = signed_in(request, runtime, *STATISTICS_ROLES)
        if ma is not None and person.role in DESK_ROLES:
            code = ma.strip()
            if code:
                return RedirectResponse(f"/thanh-tra/ho-so/{quote(code, safe='')}", status_code=303)
            return desk(request, person, 422, error=("Hãy nhập mã hồ sơ.", "Enter a dossier code."))
        return desk(request, person)

    @router.post("/thanh-tra/kiem-tra", response_class=HTMLResponse)
    async def verify_upload(request: Request) -> Response:
        person = signed_in(request, runtime, *DESK_ROLES)
        form = await form_of(request, runtime)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return desk(request, person, 422, error=("Hãy chọn tệp PDF cần kiểm tra.", "Choose the PDF to verify."))
        data = await upload.read()
        checked = Upload("file", upload.filename, upload.content_type or "", io.BytesIO(data))
        filename = checked.filename  # the safe base name (dossiers.filenames)
        try:
            # active content is reported, not refused: the file is neither stored nor opened (api/app.py's verify)
            found = await run_in_threadpool(lambda: check_upload(checked, allow_active_content=True))
            if (upload.content_type or "").split(";")[0].strip().lower() != PDF:
                raise InvalidInput("Chỉ kiểm tra được tệp PDF.", "Only PDF files can be verified.")
            report = await run_in_threadpool(
                verification.verify_file, person.username, filename, data, channel="browser"
            )
        except MotcuaError as exc:
            return desk(request, person, 422, error=(exc.message_vi, exc.message_en), filename=filename)
        source = {
            "filename": filename,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "active_content": found,
        }
        return page(request, runtime, "audit/report.html", person=person, report=report, source=source, **_helpers())

    # ------------------------------------------------------------------ a dossier's trail

    @router.get("/thanh-tra/ho-so/{code}", response_class=HTMLResponse)
    def trail(request: Request, code: str) -> Response:
        person = signed_in(request, runtime, *DESK_ROLES)
        try:
            view = shop.read_dossier(person, code)
        except NotFound as exc:
            return desk(request, person, 404, error=(exc.message_vi, exc.message_en), code=code)
        events = shop.history(person, code)
        documents = []
        for doc in view["documents"]:
            checked = None
            if doc["content_type"] == PDF:
                _, report = verification.verify_document(person, code, doc["id"], tolerant=True, channel="browser")
                checked = {
                    "indication": report["indication"],
                    "sub_indication": report.get("sub_indication"),
                    "signatures": len(report.get("signatures") or ()),
                }
            documents.append(doc | {"verification": checked})
        status = view["status"]
        return page(
            request,
            runtime,
            "audit/trail.html",
            person=person,
            dossier=view,
            status_label=STATUS_LABELS_VI.get(DossierStatus(status), status),
            events=events,
            documents=documents,
            may_export=person.role == Role.AUDITOR,
            **_helpers(),
        )

    @router.get("/thanh-tra/ho-so/{code}/goi-chung-cu.zip")
    def evidence_package(request: Request, code: str) -> Response:
        """The dossier's evidence package (services.evidence), for auditors; recorded as ``evidence.exported``."""
        from services.evidence import ZIP, export_evidence

        person = signed_in(request, runtime, Role.AUDITOR)
        package = export_evidence(runtime, code, person.username, channel="browser")
        return Response(
            package.data,
            media_type=ZIP,
            headers={
                "content-disposition": content_disposition(package.filename),
                "cache-control": "no-store",
            },
        )

    @router.get("/thanh-tra/ho-so/{code}/tai-lieu/{document_id}", response_class=HTMLResponse)
    def document_report(request: Request, code: str, document_id: str) -> Response:
        person = signed_in(request, runtime, *DESK_ROLES)
        row, report = verification.verify_document(person, code, document_id, channel="browser")
        source = {"filename": row.filename, "sha256": row.sha256, "size": row.size, "code": code, "kind": row.kind}
        return page(request, runtime, "audit/report.html", person=person, report=report, source=source, **_helpers())

    # ------------------------------------------------------------------ the audit log's chain and checkpoints

    def chain_page(request: Request, person: Any, status_code: int = 200, **context: Any) -> HTMLResponse:
        from services.audit import audit_report

        report = audit_report(runtime)
        problems = [
            (CHAIN_PROBLEMS.get(p.kind, "Mục {seq}: có sai lệch.").format(seq=p.seq), p.message)
            for p in report.problems
        ]
        return page(
            request,
            runtime,
            "audit/chain.html",
            status_code=status_code,
            person=person,
            report=report,
            problems=problems,
            checkpoints=list(reversed(report.checkpoints))[:10],
            **context,
        )

    @router.get("/thanh-tra/nhat-ky", response_class=HTMLResponse)
    def chain_status(request: Request, tb: str = "") -> Response:
        person = signed_in(request, runtime, *DESK_ROLES)
        return chain_page(request, person, notice=CHAIN_NOTICES.get(tb))

    @router.post("/thanh-tra/nhat-ky/diem-kiem-tra", response_class=HTMLResponse)
    async def make_checkpoint(request: Request) -> Response:
        person = signed_in(request, runtime, *DESK_ROLES)
        await form_of(request, runtime)  # the CSRF token
        try:
            made = await run_in_threadpool(runtime.checkpoints.make, runtime.clock.now(), "demand")
        except MotcuaError as exc:
            return chain_page(request, person, 503, error=(exc.message_vi, exc.message_en))
        return RedirectResponse(f"/thanh-tra/nhat-ky?tb={'da-tao' if made else 'trong'}", status_code=303)

    # ------------------------------------------------------------------ statistics

    def statistics_query(request: Request) -> tuple[dt.date, dt.date, GroupBy, str | None]:
        params = request.query_params
        day = today()
        last = _parse_day(params.get("to"), day, "đến ngày")
        first = _parse_day(params.get("from"), last.replace(day=1), "từ ngày")
        try:
            group_by = GroupBy(params.get("group_by") or GroupBy.AGENCY.value)
        except ValueError:
            raise InvalidInput(
                "Cách nhóm phải là cơ quan, phòng ban hoặc thủ tục.",
                "group_by must be agency, department or procedure.",
            ) from None
        agency = (params.get("agency") or "").strip() or None
        return first, last, group_by, agency

    @router.get("/thanh-tra/thong-ke", response_class=HTMLResponse)
    def statistics_page(request: Request) -> Response:
        person = signed_in(request, runtime, *STATISTICS_ROLES)
        structure = shop.structure_now()
        visible = stats.visible_agencies(structure, person)
        agencies = [a for a in structure.agencies if visible is None or a.code in visible]
        params = request.query_params
        context: dict[str, Any] = {
            "agencies": agencies,
            "group_by_names": GROUP_BY_NAMES,
            "asked": {k: params.get(k, "") for k in ("from", "to", "group_by", "agency")},
            "may_audit": person.role in DESK_ROLES,
        }
        try:
            first, last, group_by, agency = statistics_query(request)
            report, names = stats.read_statistics(
                runtime.db, shop, person, first, last, group_by, agency, channel="browser"
            )
        except MotcuaError as exc:
            status = 403 if exc.kind == "forbidden" else 422
            return page(
                request,
                runtime,
                "audit/statistics.html",
                status_code=status,
                person=person,
                error=(exc.message_vi, exc.message_en),
                **context,
            )

        def name_of(key: str) -> str:
            return names.get(key) or (UNASSIGNED_LABEL if key == UNASSIGNED else key)

        groups = [
            BarGroup(
                name_of(g.key),
                {k: getattr(g.indicators, k) for k in ("received", "resolved", "early", "on_time", "late")},
            )
            for g in report.groups
        ]
        rows = [[_cell(v) for v in row] for row in table(report, names)]
        query = {"from": first.isoformat(), "to": last.isoformat(), "group_by": group_by.value}
        if agency:
            query["agency"] = agency
        total = report.total
        bar_title = f"Tình hình giải quyết hồ sơ theo {GROUP_HEADERS[group_by].lower()}"
        return page(
            request,
            runtime,
            "audit/statistics.html",
            person=person,
            first=first,
            last=last,
            group_by=group_by,
            agency=agency,
            group_header=GROUP_HEADERS[group_by],
            header=rows[0],
            rows=rows[1:],
            total=total,
            shares=total.shares(),
            bars=Markup(bar_chart(groups, bar_title)),  # noqa: S704 - the charts escape every text
            donut=Markup(donut_chart(total.ratings)),  # noqa: S704 - the charts escape every text
            export_csv="/thanh-tra/thong-ke/xuat?" + urlencode(query | {"format": "csv"}),
            export_xlsx="/thanh-tra/thong-ke/xuat?" + urlencode(query | {"format": "xlsx"}),
            **context,
        )

    @router.get("/thanh-tra/thong-ke/xuat")
    def statistics_export(request: Request, format: str = "csv") -> Response:  # noqa: A002 - the query's name
        person = signed_in(request, runtime, *STATISTICS_ROLES)
        first, last, group_by, agency = statistics_query(request)
        body, media_type, filename = stats.export_statistics(
            runtime.db, shop, person, first, last, group_by, agency, format, channel="browser"
        )
        return Response(
            body,
            media_type=media_type,
            headers={
                "content-disposition": content_disposition(
                    f"Thống kê theo {GROUP_HEADERS[group_by].lower()} từ {first:%d-%m-%Y} đến {last:%d-%m-%Y}"
                    + filename[filename.rfind(".") :]
                ),
                "cache-control": "no-store",
            },
        )

    return router
