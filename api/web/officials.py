"""Officials' pages (*cán bộ*): the task list and the task page.

- ``GET /can-bo/nhiem-vu``: the tasks the signed-in official may act on (their role, their agency, the departments
  the agency maps to that role), in tabs — all, mine, the department's unclaimed, due soon, overdue — filtered by
  procedure (``thu_tuc``) and sorted by due or received date (``sap_xep=han|-han|nhan|-nhan``); claim/unclaim
  buttons are POST forms with the CSRF token that come back to the same list with a message (``tb``/``loi``: codes,
  never free text).
- ``GET /can-bo/nhiem-vu/{task_id}``: the dossier (applicant, procedure, form details), its documents (preview in the
  page, download), comments, history, the process diagram (``api/static/js/diagram.js``) and the step's form: the
  decision choices the BPMN gateway accepts, or — on the leader's signing step — the two-step personal signing in
  the browser (``api/static/js/signing.js``: the key file never leaves the leader's computer).
- ``POST /can-bo/nhiem-vu/{task_id}``: complete the step (decision + comment).
- ``GET /can-bo/ho-so/{code}/tai-lieu/{document_id}``: a document served ``inline`` for the preview frame, after
  the same authorization as the API's download (``OneStopShop.open_document``); only PDF and images are shown
  inline, anything else is an attachment.
- ``GET /can-bo/ky-so/{pending_id}/van-ban``: the prepared PDF of a pending personal signature, for its signer only
  (what the leader is about to sign).

Mounted by ``create_app``: ``app.include_router(officials_router(runtime))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from api.problems import STATUS
from api.web.render import page
from api.web.routes import form_of, signed_in
from dossiers.errors import MotcuaError, NotFound
from dossiers.model import STATUS_LABELS_VI, DossierStatus, Person, Role
from dossiers.text_rules import COMMENT_MAX

OFFICIALS = (Role.RECEPTION, Role.SPECIALIST, Role.LEADER, Role.CLERK)
DOCUMENT_READERS = (*OFFICIALS, Role.AUDITOR, Role.ADMIN)
LIST_PATH = "/can-bo/nhiem-vu"

TABS: dict[str, tuple[str, str]] = {
    "tat-ca": ("Tất cả", "All"),
    "cua-toi": ("Của tôi", "Mine"),
    "chua-nhan": ("Chưa nhận của phòng", "Unclaimed in my department"),
    "sap-den-han": ("Sắp đến hạn", "Due soon"),
    "qua-han": ("Quá hạn", "Overdue"),
}
SORTS: dict[str, tuple[str, str]] = {
    "han": ("Hạn xử lý (sớm nhất trước)", "Due date (earliest first)"),
    "-han": ("Hạn xử lý (muộn nhất trước)", "Due date (latest first)"),
    "nhan": ("Ngày nhận (cũ nhất trước)", "Received (oldest first)"),
    "-nhan": ("Ngày nhận (mới nhất trước)", "Received (newest first)"),
}
NOTICES: dict[str, tuple[str, str]] = {
    "da-nhan": ("Đã nhận xử lý nhiệm vụ.", "Task claimed."),
    "da-tra": ("Đã trả nhiệm vụ về phòng.", "Task released to the department."),
    "da-xu-ly": (
        "Đã hoàn thành bước xử lý; hồ sơ được chuyển bước tiếp theo.",
        "Step completed; the dossier moved on.",
    ),
}
ERRORS: dict[str, tuple[str, str]] = {
    "khong-con": ("Nhiệm vụ không còn (đã được xử lý hoặc không tồn tại).", "The task is gone (done or unknown)."),
    "khong-duoc-phep": ("Nhiệm vụ thuộc bộ phận hoặc vai trò khác.", "The task belongs to another department or role."),
    "nguoi-khac": ("Nhiệm vụ đang do người khác xử lý.", "Someone else has claimed the task."),
    "loi": ("Không thực hiện được thao tác.", "The action failed."),
}
DECISION_LABELS: dict[str, tuple[str, str]] = {
    "approve": ("Đồng ý, trình bước tiếp theo", "Approve"),
    "supplement": ("Yêu cầu bổ sung hồ sơ", "Ask for a supplement"),
    "refuse": ("Từ chối giải quyết", "Refuse"),
    "return": ("Trả lại để thẩm định lại", "Send back for review"),
}
DECISION_ORDER = {"approve": 0, "supplement": 1, "return": 2, "refuse": 3}
TIMELINESS_LABELS: dict[str, tuple[str, str]] = {
    "early": ("Còn hạn", "In time"),
    "soon": ("Sắp đến hạn", "Due soon"),
    "on_time": ("Đến hạn hôm nay", "Due today"),
    "late": ("Quá hạn", "Overdue"),
}
EVENT_LABELS: dict[str, tuple[str, str]] = {
    "dossier.received": ("Tiếp nhận hồ sơ", "Dossier received"),
    "dossier.status_changed": ("Chuyển trạng thái", "Status changed"),
    "dossier.supplemented": ("Bổ sung hồ sơ", "Dossier supplemented"),
    "task.claimed": ("Nhận xử lý", "Task claimed"),
    "task.unclaimed": ("Trả nhiệm vụ", "Task released"),
    "task.completed": ("Hoàn thành bước", "Step completed"),
    "document.stored": ("Lưu tài liệu", "Document stored"),
    "document.filed": ("Lưu trữ tài liệu vào hồ sơ", "Document filed"),
    "signature.requested": ("Chuẩn bị ký số", "Signature prepared"),
    "signature.applied": ("Ký số", "Signed"),
    "signature.verified": ("Kiểm tra chữ ký số", "Signature verified"),
}
DOCUMENT_KINDS: dict[str, tuple[str, str]] = {
    "upload": ("Giấy tờ nộp", "Submitted paper"),
    "supplement": ("Giấy tờ bổ sung", "Supplementary paper"),
    "receipt": ("Giấy tiếp nhận và hẹn trả kết quả (Mẫu 01)", "Receipt (form 01)"),
    "supplement_request": ("Phiếu yêu cầu bổ sung (Mẫu 02)", "Supplement request (form 02)"),
    "refusal": ("Phiếu từ chối (Mẫu 03)", "Refusal (form 03)"),
    "certificate": ("Giấy chứng nhận (kết quả)", "Certificate (result)"),
    "certificate_draft": ("Giấy chứng nhận đã ký (chờ vào sổ, đóng dấu)", "Signed certificate (before number/seal)"),
}
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})
HIDDEN_EVENTS = frozenset({"dossier.read", "document.read"})  # every page view would add one


def _list_url(params: dict[str, str]) -> str:
    kept = {k: v for k, v in params.items() if v}
    return LIST_PATH + (f"?{urlencode(kept)}" if kept else "")


def _back_to(target: str | None) -> str:
    """Where a claim/unclaim form returns: the task list (with its query) or a task page, nothing else."""
    if not target or not target.startswith("/can-bo/") or "\\" in target:
        return LIST_PATH
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return LIST_PATH
    params = [p for p in parts.query.split("&") if p and not p.startswith(("tb=", "loi="))]
    return parts.path + (f"?{'&'.join(params)}" if params else "")


def _with_message(target: str, key: str, code: str) -> str:
    return target + ("&" if "?" in target else "?") + f"{key}={code}"


def _error_code(exc: MotcuaError) -> str:
    return {"not_found": "khong-con", "forbidden": "khong-duoc-phep", "conflict": "nguoi-khac"}.get(exc.kind, "loi")


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    return str(value)


def officials_router(runtime: Any) -> APIRouter:
    shop = runtime.shop
    router = APIRouter(include_in_schema=False)

    def in_tab(row: dict[str, Any], tab: str) -> bool:
        if tab == "cua-toi":
            return bool(row["mine"])
        if tab == "chua-nhan":
            return row["assignee"] is None
        if tab == "sap-den-han":
            return row["timeliness"] in ("soon", "on_time")
        if tab == "qua-han":
            return row["timeliness"] == "late"
        return True

    @router.get(LIST_PATH, response_class=HTMLResponse)
    def task_list(
        request: Request,
        muc: str = "tat-ca",
        thu_tuc: str = "",
        sap_xep: str = "han",
        tb: str = "",
        loi: str = "",
    ) -> Response:
        person = signed_in(request, runtime, *OFFICIALS)
        tab = muc if muc in TABS else "tat-ca"
        order = sap_xep if sap_xep in SORTS else "han"
        everything, shown = runtime.tasks.list_tasks(
            person,
            keep=lambda r: in_tab(r, tab) and (not thu_tuc or r["procedure_code"] == thu_tuc),
            order_by="due" if order.endswith("han") else "received_at",
            descending=order.startswith("-"),
            page="tasks",
        )
        procedures = sorted({(r["procedure_code"], r["procedure_name"]) for r in everything})
        counts = {name: sum(1 for r in everything if in_tab(r, name)) for name in TABS}
        params = {"muc": tab, "thu_tuc": thu_tuc, "sap_xep": order}
        return page(
            request,
            runtime,
            "officials/tasks.html",
            person=person,
            tabs=TABS,
            tab=tab,
            counts=counts,
            sorts=SORTS,
            order=order,
            procedure_filter=thu_tuc,
            procedures=procedures,
            tasks=shown,
            here=_list_url(params),
            tab_url=lambda name: _list_url(params | {"muc": name}),
            notice=NOTICES.get(tb),
            error=ERRORS.get(loi),
            timeliness_labels=TIMELINESS_LABELS,
        )

    async def claim_or_release(request: Request, task_id: str, claim: bool) -> Response:
        person = signed_in(request, runtime, *OFFICIALS)
        form = await form_of(request, runtime)
        back = _back_to(str(form.get("back") or ""))
        try:
            await run_in_threadpool(runtime.tasks.claim if claim else runtime.tasks.unclaim, person, task_id)
        except MotcuaError as exc:
            return RedirectResponse(_with_message(back, "loi", _error_code(exc)), status_code=303)
        return RedirectResponse(_with_message(back, "tb", "da-nhan" if claim else "da-tra"), status_code=303)

    @router.post(LIST_PATH + "/{task_id}/nhan")
    async def claim(request: Request, task_id: str) -> Response:
        return await claim_or_release(request, task_id, claim=True)

    @router.post(LIST_PATH + "/{task_id}/tra")
    async def release(request: Request, task_id: str) -> Response:
        return await claim_or_release(request, task_id, claim=False)

    def find_task(person: Person, task_id: str) -> dict[str, Any]:
        for row in runtime.tasks.task_rows(person):
            if row["id"] == task_id:
                return row
        raise NotFound(
            "Nhiệm vụ không tồn tại, đã hoàn thành hoặc không thuộc bộ phận của bạn.",
            "The task does not exist, is done or is not for your department.",
            task_id=task_id,
        )

    def task_page(
        request: Request,
        person: Person,
        task_id: str,
        *,
        error: MotcuaError | None = None,
        status_code: int = 200,
        comment: str = "",
        decision: str = "",
        notice: tuple[str, str] | None = None,
    ) -> Response:
        try:
            task = find_task(person, task_id)
        except NotFound as exc:
            return page(request, runtime, "officials/missing.html", status_code=404, person=person, error=exc)
        code = task["dossier_code"]
        dossier = shop.read_dossier(person, code)
        row = shop.dossier_row(code)
        proc = shop.procedure_of(row)
        field_names = {f.key: f.name for f in proc.form_fields}
        paper_names = {p.key: p.name for p in proc.papers}
        details = [(field_names.get(k, k), _value_text(v)) for k, v in (dossier["details"] or {}).items()]
        documents = [
            d
            | {
                "paper_name": paper_names.get(d["paper_key"] or "", ""),
                "kind_label": DOCUMENT_KINDS.get(d["kind"], (d["kind"], d["kind"])),
                "inline": d["content_type"] in INLINE_TYPES,
                "preview_url": f"/can-bo/ho-so/{quote(code, safe='')}/tai-lieu/{quote(d['id'], safe='')}",
                "download_url": f"/api/dossiers/{quote(code, safe='')}/documents/{quote(d['id'], safe='')}",
            }
            for d in dossier["documents"]
        ]
        events = shop.history(person, code)
        history = [e for e in events if e["kind"] not in HIDDEN_EVENTS]
        comments = [e for e in events if e["kind"] == "task.completed" and e["details"].get("comment")]
        pending = None
        if task["signing"]:
            mine = [p for p in runtime.signatures.pending_for(person) if p.dossier_code == code]
            pending = mine[0] if mine else None
        choices = sorted(task["decisions"].get("decision", []), key=lambda c: (DECISION_ORDER.get(c, 9), c))
        return page(
            request,
            runtime,
            "officials/task.html",
            status_code=status_code,
            person=person,
            task=task,
            dossier=dossier,
            procedure=proc,
            status_label=STATUS_LABELS_VI.get(DossierStatus(dossier["status"]), dossier["status"]),
            details=details,
            documents=documents,
            history=history,
            comments=comments,
            event_labels=EVENT_LABELS,
            decision_labels=DECISION_LABELS,
            status_labels={s.value: label for s, label in STATUS_LABELS_VI.items()},
            timeliness_labels=TIMELINESS_LABELS,
            choices=choices,
            pending=pending,
            can_act=task["assignee"] in (None, person.username),
            error=error,
            comment=comment,
            chosen=decision,
            notice=notice,
            here=f"{LIST_PATH}/{quote(task_id, safe='')}",
        )

    @router.get(LIST_PATH + "/{task_id}", response_class=HTMLResponse)
    def task_detail(request: Request, task_id: str, tb: str = "", loi: str = "") -> Response:
        person = signed_in(request, runtime, *OFFICIALS)
        error = ERRORS.get(loi)
        problem = MotcuaError(*error) if error else None
        return task_page(request, person, task_id, error=problem, notice=NOTICES.get(tb))

    @router.post(LIST_PATH + "/{task_id}", response_class=HTMLResponse)
    async def complete(request: Request, task_id: str) -> Response:
        person = signed_in(request, runtime, *OFFICIALS)
        form = await form_of(request, runtime)
        decision = str(form.get("decision") or "").strip() or None
        comment = str(form.get("comment") or "").strip() or None
        try:
            await run_in_threadpool(runtime.tasks.complete, person, task_id, decision, comment)
        except MotcuaError as exc:
            return task_page(
                request,
                person,
                task_id,
                error=exc,
                status_code=STATUS.get(exc.kind, 400),
                comment=(comment or "")[: COMMENT_MAX + 20],  # refilled, never a pasted megabyte echoed back
                decision=decision or "",
            )
        return RedirectResponse(_with_message(LIST_PATH, "tb", "da-xu-ly"), status_code=303)

    @router.get("/can-bo/ho-so/{code}/tai-lieu/{document_id}")
    def document_inline(request: Request, code: str, document_id: str) -> Response:
        person = signed_in(request, runtime, *DOCUMENT_READERS)
        row, stream = shop.open_document(person, code, document_id)
        inline = row.content_type in INLINE_TYPES
        return StreamingResponse(
            _chunks(stream),
            media_type=row.content_type if inline else "application/octet-stream",
            headers=_document_headers(row.filename, row.size, inline) | {"x-content-sha256": row.sha256},
        )

    @router.get("/can-bo/ky-so/{pending_id}/van-ban")
    def document_to_sign(request: Request, pending_id: str) -> Response:
        """The prepared PDF a pending personal signature is for: the signer reads what they are about to sign."""
        person = signed_in(request, runtime, *OFFICIALS)
        pending, pdf = runtime.signatures.prepared_pdf(person, pending_id)  # the signer only, only while pending
        name = f"{pending.dossier_code}-{pending.document_kind}-chua-ky.pdf"
        return Response(pdf, media_type="application/pdf", headers=_document_headers(name, len(pdf), True))

    return router


def _document_headers(filename: str, size: int, inline: bool) -> dict[str, str]:
    disposition = "inline" if inline else "attachment"
    return {
        "content-disposition": f"{disposition}; filename*=UTF-8''{quote(filename, safe='')}",
        "content-length": str(size),
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        # shown in the task page's preview frame (same origin), never framed by another site
        "x-frame-options": "SAMEORIGIN",
        "content-security-policy": "frame-ancestors 'self'",
        "referrer-policy": "same-origin",
    }


def _chunks(stream: Iterator[bytes]) -> Iterator[bytes]:
    yield from stream
