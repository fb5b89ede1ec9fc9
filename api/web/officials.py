"""Officials' pages (*cán bộ*): the task list and the task page.

- ``GET /can-bo/nhiem-vu``: the tasks the signed-in official may act on (their role, their agency, the departments
  the agency maps to that role), in tabs — all, mine, the department's unclaimed, due soon, overdue — filtered by
  procedure (``thu_tuc``) and sorted by due or received date (``sap_xep=han|-han|nhan|-nhan``); claim/unclaim
  buttons are POST forms with the CSRF token that come back to the same list with a message (``tb``/``loi``: codes,
  never free text). Beside the tasks to do, two more sections (``muc``): ``da-xu-ly``, the dossiers the official or
  their department handled, and ``tim-kiem``, the search by code, name with or without diacritics, ID number or phone
  (``q``, ``thu_tuc``, ``trang_thai``, ``trang``; :class:`services.search.DossierSearch`). Every filter is in the
  URL, so a bookmark restores the view; ``mo`` (a task) or ``ho_so`` (a dossier) opens it in a pane beside the list
  (side by side from 1200 px, ``api/static/css/worklist.css``), with the decision form of the task.
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
- ``GET /can-bo/ky-so/{pending_id}``: a letter the head of the agency signs personally (Mẫu 04, Mẫu 05), which is
  no process step: listed for the leader above the tasks ("Văn bản chờ ký"), signed in the browser as a result is;
  the server then seals it and tells the applicant.

Mounted by ``create_app``: ``app.include_router(officials_router(runtime))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from api.downloads import content_disposition, download_name, unsigned_name
from api.problems import STATUS
from api.web import labels
from api.web.desk import detail_text
from api.web.render import page
from api.web.routes import form_of, signed_in
from dossiers.errors import MotcuaError, NotFound
from dossiers.model import STATUS_LABELS_VI, DossierStatus, Person, Role
from dossiers.text_rules import COMMENT_MAX
from services.signatures import LETTER_KINDS

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
    "da-ky": (
        "Đã ký văn bản; hệ thống đóng dấu của cơ quan và gửi văn bản cho công dân.",
        "Signed; the agency's seal is applied and the letter sent to the applicant.",
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
SECTIONS: dict[str, tuple[str, str]] = {  # ``muc``: a tab of TABS is a view of the first section
    "viec-can-lam": ("Việc cần làm", "To do"),
    "da-xu-ly": ("Đã xử lý", "Handled"),
    "tim-kiem": ("Tìm hồ sơ", "Find a dossier"),
}
STATUS_CHOICES = tuple(s.value for s in DossierStatus)
PANE = "xem"  # the id of the side pane: links to it end with #xem (on a narrow screen it is below the list)


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


def _page_number(text: str) -> int:
    """``trang`` as typed in a URL: a number from 1 (anything else is the first page)."""
    return int(text) if text.isdigit() and 0 < len(text) <= 5 and int(text) > 0 else 1


def _error_code(exc: MotcuaError) -> str:
    return {"not_found": "khong-con", "forbidden": "khong-duoc-phep", "conflict": "nguoi-khac"}.get(exc.kind, "loi")


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
        q: str = "",
        trang_thai: str = "",
        trang: str = "1",
        mo: str = "",
        ho_so: str = "",
        tb: str = "",
        loi: str = "",
    ) -> Response:
        """Three sections, every filter in the query (a bookmark restores the view): the tasks to do (tabs,
        procedure, sort), the dossiers handled (``da-xu-ly``) and the search (``tim-kiem``: ``q``, procedure,
        status, page). ``mo`` (a task) or ``ho_so`` (a dossier) opens it in the pane beside the list."""
        person = signed_in(request, runtime, *OFFICIALS)
        section = muc if muc in SECTIONS else "viec-can-lam"
        tab = muc if muc in TABS else "tat-ca"
        order = sap_xep if sap_xep in SORTS else "han"
        procedure_filter = thu_tuc.strip()[:40]
        status_filter = trang_thai if trang_thai in STATUS_CHOICES else ""
        number = _page_number(trang)
        if section == "viec-can-lam":
            params = {"muc": tab, "thu_tuc": procedure_filter, "sap_xep": order}
        else:
            params = {"muc": section, "q": q.strip() if section == "tim-kiem" else "", "thu_tuc": procedure_filter}
            params |= {"trang_thai": status_filter, "trang": str(number) if number > 1 else ""}
        here = _list_url(params)
        context: dict[str, Any] = {}
        task_rows: list[dict[str, Any]] | None = None
        if section == "viec-can-lam":
            task_rows, shown = runtime.tasks.list_tasks(
                person,
                keep=lambda r: in_tab(r, tab) and (not procedure_filter or r["procedure_code"] == procedure_filter),
                order_by="due" if order.endswith("han") else "received_at",
                descending=order.startswith("-"),
                page="tasks",
            )
            context |= {
                "procedures": sorted({(r["procedure_code"], r["procedure_name"]) for r in task_rows}),
                "counts": {name: sum(1 for r in task_rows if in_tab(r, name)) for name in TABS},
                "tasks": shown,
            }
        else:
            found, problem = None, None
            filters: dict[str, Any] = {"procedure_code": procedure_filter, "status": status_filter, "page": number}
            try:
                if section == "tim-kiem":
                    found = runtime.search.search(person, q, listing="tim-kiem", **filters)
                else:
                    found = runtime.search.handled(person, listing="da-xu-ly", **filters)
            except MotcuaError as exc:
                problem = (exc.message_vi, exc.message_en)
            context |= {
                "procedures": runtime.search.procedure_choices(),
                "found": found,
                "search_error": problem,
                "page_url": lambda n: _list_url(params | {"trang": str(n) if n > 1 else ""}),
            }
        pane = None
        if mo:
            rows = task_rows if task_rows is not None else runtime.tasks.task_rows(person)
            pane = task_pane(person, mo, rows, back=here)
        elif ho_so:
            pane = dossier_pane(person, ho_so.strip()[:80], lambda: runtime.tasks.task_rows(person))
        opened = {"mo": mo} if pane is not None and pane["kind"] == "task" else {"ho_so": ho_so} if pane else {}
        return page(
            request,
            runtime,
            "officials/tasks.html",
            person=person,
            sections=SECTIONS,
            section=section,
            section_url=lambda name: _list_url({"muc": "tat-ca" if name == "viec-can-lam" else name}),
            tabs=TABS,
            tab=tab,
            sorts=SORTS,
            order=order,
            procedure_filter=procedure_filter,
            status_filter=status_filter,
            statuses=[(value, labels.status(value)) for value in STATUS_CHOICES],
            status_label=labels.status,
            query=q.strip() if section == "tim-kiem" else "",
            here=_list_url(params | opened),  # where claim/release come back: the pane stays open
            tab_url=lambda name: _list_url(params | {"muc": name}),
            task_url=lambda task_id: _list_url(params | {"mo": task_id}) + f"#{PANE}",
            dossier_url=lambda code: _list_url(params | {"ho_so": code}) + f"#{PANE}",
            close_url=here,
            pane=pane,
            notice=NOTICES.get(tb),
            error=ERRORS.get(loi),
            timeliness_labels=TIMELINESS_LABELS,
            decision_labels=DECISION_LABELS,
            # reception's first work is not a process task: the online dossiers waiting in its queue
            reception_queue=len(runtime.reception.queue(person)) if person.role == Role.RECEPTION else 0,
            letters=letters_to_sign(person),  # the head's letters (Mẫu 04, 05): no process step, signed here
            **context,
        )

    def letters_to_sign(person: Person) -> list[dict[str, Any]]:
        """The letters waiting for this leader's personal signature, oldest first, with what to call them."""
        if person.role != Role.LEADER:
            return []
        return [
            {"id": p.id, "dossier_code": p.dossier_code, "label": labels.letter_to_sign(p.document_kind)}
            for p in runtime.signatures.pending_for(person)
            if p.document_kind in LETTER_KINDS
        ]

    def _documents(code: str, documents: list[dict[str, Any]], paper_names: dict[str, str]) -> list[dict[str, Any]]:
        return [
            d
            | {
                "paper_name": paper_names.get(d["paper_key"] or "", ""),
                "kind_label": labels.document_kind(d["kind"]),
                "preview_url": f"/can-bo/ho-so/{quote(code, safe='')}/tai-lieu/{quote(d['id'], safe='')}",
            }
            for d in documents
        ]

    def task_pane(person: Person, task_id: str, rows: list[dict[str, Any]], *, back: str) -> dict[str, Any]:
        """The opened task beside the list: the dossier's facts and papers, claim/release, the decision form
        (its comment and choices as on the task page, which has the diagram, history and signing)."""
        task = next((r for r in rows if r["id"] == task_id), None)
        if task is None:
            return {"kind": "task", "error": ERRORS["khong-con"]}
        code = task["dossier_code"]
        try:
            dossier = shop.read_dossier(person, code)
        except MotcuaError as exc:
            return {"kind": "task", "error": (exc.message_vi, exc.message_en)}
        proc = shop.procedure_of(shop.dossier_row(code))
        choices = sorted(task["decisions"].get("decision", []), key=lambda c: (DECISION_ORDER.get(c, 9), c))
        return {
            "kind": "task",
            "task": task,
            "dossier": dossier,
            "documents": _documents(code, dossier["documents"], {p.key: p.name for p in proc.papers}),
            "choices": choices,
            "can_act": task["assignee"] in (None, person.username) and not task["signing"],
            "page_url": f"{LIST_PATH}/{quote(task_id, safe='')}",
            "back": back,
        }

    def dossier_pane(person: Person, code: str, rows: Any) -> dict[str, Any]:
        """A dossier found or handled, beside the list (read as the API reads it: authorized and recorded), with
        the steps of it the person may act on now."""
        try:
            dossier = shop.read_dossier(person, code)
        except MotcuaError as exc:
            return {"kind": "dossier", "error": (exc.message_vi, exc.message_en)}
        proc = shop.procedure_of(shop.dossier_row(code))
        return {
            "kind": "dossier",
            "dossier": dossier,
            "procedure_name": proc.name,
            "documents": _documents(code, dossier["documents"], {p.key: p.name for p in proc.papers}),
            "tasks": [r for r in rows() if r["dossier_code"] == code],
            "numbering": runtime.drafts.numbering(code),  # the result's register number, once given
            "waiting_letters": waiting_letters(code),
        }

    def waiting_letters(code: str) -> list[labels.Message]:
        """The dossier's letters the head has not signed yet: not among its documents, and the page says why."""
        return [labels.document_kind(kind) for kind in runtime.signatures.letters_waiting(code)]

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
        fields = {f.key: f for f in proc.form_fields}
        paper_names = {p.key: p.name for p in proc.papers}
        declared = dossier["details"] or {}
        in_order = [k for k in fields if k in declared] + [k for k in declared if k not in fields]  # the form's order
        details = [(fields[k].name if k in fields else k, detail_text(fields.get(k), declared[k])) for k in in_order]
        documents = [
            d
            | {
                "paper_name": paper_names.get(d["paper_key"] or "", ""),
                "kind_label": labels.document_kind(d["kind"]),
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
        task_path = f"{LIST_PATH}/{quote(task_id, safe='')}"
        # the leader reads the result before approving it; the clerk the signed result and the number it gets
        draft_url = f"{task_path}/du-thao" if task.get("signs_after") and runtime.drafts.has_draft(code) else None
        numbering = runtime.drafts.numbering(code) if task["activity_id"] == "register_number" else None
        signed_url = f"{task_path}/van-ban-da-ky" if numbering is not None else None
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
            draft_url=draft_url,
            numbering=numbering,
            signed_url=signed_url,
            pending=pending,
            waiting_letters=waiting_letters(code),
            certificate_notice=runtime.tasks.certificate_notice(person, task),  # no valid certificate to sign
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
        numbered = next(
            (
                r["dossier_code"]
                for r in runtime.tasks.task_rows(person)
                if r["id"] == task_id and r["activity_id"] == "register_number"
            ),
            None,
        )
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
        back = _back_to(str(form.get("back") or "")) if form.get("back") else LIST_PATH  # the pane's list
        if numbered is not None and not form.get("back"):
            # the clerk reads the number the register gave, beside the list
            target = _list_url({"ho_so": numbered, "tb": "da-xu-ly"}) + f"#{PANE}"
            return RedirectResponse(target, status_code=303)
        return RedirectResponse(_with_message(back, "tb", "da-xu-ly"), status_code=303)

    @router.get("/can-bo/ho-so/{code}/tai-lieu/{document_id}")
    def document_inline(request: Request, code: str, document_id: str) -> Response:
        person = signed_in(request, runtime, *DOCUMENT_READERS)
        row, stream = shop.open_document(person, code, document_id)
        inline = row.content_type in INLINE_TYPES
        return StreamingResponse(
            _chunks(stream),
            media_type=row.content_type if inline else "application/octet-stream",
            headers=_document_headers(download_name(code, row.kind, row.filename), row.size, inline)
            | {"x-content-sha256": row.sha256},
        )

    def acting_task(person: Person, task_id: str) -> dict[str, Any]:
        task = find_task(person, task_id)  # NotFound for a task the person may not act on
        shop.read_dossier(person, task["dossier_code"])  # authorised, and the read recorded
        return task

    @router.get(LIST_PATH + "/{task_id}/du-thao")
    def result_draft(request: Request, task_id: str) -> Response:
        """The result as it will be prepared for the leader's signature (rendered now, nothing stored)."""
        person = signed_in(request, runtime, *OFFICIALS)
        task = acting_task(person, task_id)
        code = task["dossier_code"]
        pdf = runtime.drafts.draft(code, person.username, {})
        shop.record("result.draft_viewed", person.username, code, task=task["activity_id"])
        name = f"Dự thảo kết quả - {code}.pdf"
        return Response(pdf, media_type="application/pdf", headers=_document_headers(name, len(pdf), True))

    @router.get(LIST_PATH + "/{task_id}/van-ban-da-ky")
    def leader_signed(request: Request, task_id: str) -> Response:
        """The leader-signed result the clerk numbers (before the number, the date and the seal)."""
        person = signed_in(request, runtime, *OFFICIALS)
        task = acting_task(person, task_id)
        code = task["dossier_code"]
        pdf = runtime.paperwork.leader_signed_result(code)
        shop.record("document.read", person.username, code, document="leader_signed_result")
        name = f"Kết quả đã ký - chờ vào số - {code}.pdf"
        return Response(pdf, media_type="application/pdf", headers=_document_headers(name, len(pdf), True))

    @router.get("/can-bo/ky-so/{pending_id}", response_class=HTMLResponse)
    def letter_to_sign(request: Request, pending_id: str) -> Response:
        """A letter the head signs personally: what it is, the document to read, the signing form (signing.js)."""
        person = signed_in(request, runtime, Role.LEADER)
        try:
            pending = runtime.signatures.get(person, pending_id)  # the signer only, only while pending
            if pending.document_kind not in LETTER_KINDS:
                raise NotFound("Không có văn bản chờ ký này.", "No such letter to sign.", pending_id=pending_id)
        except MotcuaError as exc:
            status = STATUS.get(exc.kind, 400)
            return page(request, runtime, "officials/missing.html", status_code=status, person=person, error=exc)
        dossier = shop.read_dossier(person, pending.dossier_code)
        return page(
            request,
            runtime,
            "officials/sign_letter.html",
            person=person,
            pending=pending,
            dossier=dossier,
            procedure_name=shop.procedure_of(shop.dossier_row(pending.dossier_code)).name,
            title=labels.letter_to_sign(pending.document_kind),
        )

    @router.get("/can-bo/ky-so/{pending_id}/van-ban")
    def document_to_sign(request: Request, pending_id: str) -> Response:
        """The prepared PDF a pending personal signature is for: the signer reads what they are about to sign."""
        person = signed_in(request, runtime, *OFFICIALS)
        pending, pdf = runtime.signatures.prepared_pdf(person, pending_id)  # the signer only, only while pending
        name = unsigned_name(pending.dossier_code, pending.document_kind)
        return Response(pdf, media_type="application/pdf", headers=_document_headers(name, len(pdf), True))

    return router


def _document_headers(filename: str, size: int, inline: bool) -> dict[str, str]:
    return {
        "content-disposition": content_disposition(filename, inline=inline),
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
