"""What people read instead of the code's names: one table per kind of identifier (document kinds, audit event
kinds, decisions, channels, roles, statuses, the keys of an audit entry's details, system actors) and
:class:`Labels`, the per-page helper the templates call (``labels.event(e.kind)``, ``labels.person(e.actor)``,
``labels.step(d.task, code)``).

Every label is a (Vietnamese, English) pair like the templates' ``t(vi, en)``. A key no table knows never reaches a
page as it is: it becomes a generic sentence ("Sự kiện khác", "Tài liệu khác", …) — an internal id on a page is a
bug, and ``tests/unit/test_labels.py`` fails when the code records an event kind that has no label here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from documents.templating import form_number
from dossiers.calendar import VN_TZ
from dossiers.model import STATUS_LABELS_VI, DossierStatus
from dossiers.problems import vietnamese
from workflows.introspect import BPMN_NS, bpmn_file_for

Message = tuple[str, str]  # (Vietnamese, English)

# ---------------------------------------------------------------------- statuses, documents, decisions, channels

STATUS_EN: Mapping[str, str] = {
    "submitted": "Waiting for reception",
    "received": "Received",
    "in_progress": "In progress",
    "supplement_requested": "Supplement requested",
    "result_ready": "Result ready",
    "returned": "Result returned",
    "refused": "Refused",
    "withdrawn": "Withdrawn",
    "stopped": "Processing stopped",
}
UNKNOWN_STATUS: Message = ("Trạng thái khác", "Other status")

DOCUMENT_KINDS: Mapping[str, Message] = {
    "upload": ("Giấy tờ đã nộp", "Submitted paper"),
    "supplement": ("Giấy tờ bổ sung", "Supplementary paper"),
    "scan": ("Bản quét giấy tờ tại Bộ phận Một cửa", "Scan made at the desk"),
    "scan_copy": ("Bản sao điện tử (số hóa)", "Digitised copy"),
    "receipt": ("Giấy tiếp nhận hồ sơ và hẹn trả kết quả (Mẫu 01)", "Receipt and appointment (form 01)"),
    "supplement_request": ("Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ (Mẫu 02)", "Supplement request (form 02)"),
    "refusal": ("Phiếu từ chối giải quyết hồ sơ (Mẫu 03)", "Refusal (form 03)"),
    # Mẫu 04 in both sets, named differently (2018: phiếu xin lỗi và hẹn lại ngày; 2025: văn bản xin lỗi và đề nghị
    # gia hạn): a name true of both
    "apology": ("Văn bản xin lỗi vì giải quyết quá hạn (Mẫu 04)", "Apology for the delay (form 04)"),
    "stop_notice": ("Thông báo dừng giải quyết hồ sơ (Mẫu 05)", "Notice that processing stops (form 05)"),
    "apology_draft": ("Mẫu 04 lãnh đạo đã ký, chờ đóng dấu", "Form 04 signed by the head, before the seal"),
    "stop_notice_draft": ("Mẫu 05 lãnh đạo đã ký, chờ đóng dấu", "Form 05 signed by the head, before the seal"),
    "result": ("Kết quả giải quyết (có chữ ký số)", "Signed result"),
    "result_draft": ("Kết quả đã ký, chờ vào số và đóng dấu", "Signed result, before numbering and seal"),
    "inspection_record": ("Biên bản kiểm tra hiện trạng", "Site inspection record"),
    "tax_notice": ("Thông báo nộp tiền (nghĩa vụ tài chính)", "Tax notice"),
}
UNKNOWN_DOCUMENT: Message = ("Tài liệu khác", "Other document")

DECISIONS: Mapping[str, Message] = {
    "approve": ("Đồng ý, trình bước tiếp theo", "Approve"),
    "supplement": ("Yêu cầu bổ sung hồ sơ", "Ask for a supplement"),
    "refuse": ("Từ chối giải quyết", "Refuse"),
    "return": ("Trả lại để thẩm định lại", "Send back for review"),
    "accept": ("Tiếp nhận", "Accept"),
    "reject": ("Không tiếp nhận", "Reject"),
}
UNKNOWN_DECISION: Message = ("Quyết định khác", "Other decision")

CHANNELS: Mapping[str, Message] = {
    "counter": ("Trực tiếp tại Bộ phận Một cửa", "At the desk"),
    "online": ("Trực tuyến", "Online"),
    "postal": ("Bưu chính công ích", "By post"),
    "browser": ("Trang web", "Web pages"),
    "api": ("Kết nối phần mềm (API)", "API"),
    "cli": ("Dòng lệnh quản trị", "Command line"),
    "oidc": ("Đăng nhập một lần (định danh điện tử)", "Single sign-on"),
    "exchange": ("Liên thông giữa các cơ quan", "Exchange between agencies"),
    "housekeeping": ("Tác vụ định kỳ của hệ thống", "Scheduled housekeeping"),
}
UNKNOWN_CHANNEL: Message = ("Kênh khác", "Other channel")

ROLES: Mapping[str, Message] = {
    "reception": ("Cán bộ tiếp nhận", "Reception officer"),
    "specialist": ("Chuyên viên", "Specialist"),
    "leader": ("Lãnh đạo", "Leader"),
    "clerk": ("Văn thư", "Records clerk"),
    "auditor": ("Thanh tra", "Auditor"),
    "admin": ("Quản trị", "Administrator"),
    "citizen": ("Công dân", "Citizen"),
}
UNKNOWN_ROLE: Message = ("Vai trò khác", "Other role")

# ---------------------------------------------------------------------- the audit log

EVENTS: Mapping[str, Message] = {
    "dossier.submitted": ("Nộp hồ sơ trực tuyến (chờ tiếp nhận)", "Dossier submitted online"),
    "dossier.received": ("Tiếp nhận hồ sơ", "Dossier received"),
    "dossier.read": ("Xem hồ sơ", "Dossier read"),
    "dossier.listed": ("Xem danh sách hồ sơ", "Dossiers listed"),
    "dossier.status_changed": ("Chuyển trạng thái hồ sơ", "Status changed"),
    "dossier.supplemented": ("Bổ sung hồ sơ", "Dossier supplemented"),
    "dossier.rated": ("Đánh giá mức độ hài lòng", "Service rated"),
    "dossier.tracked": ("Tra cứu hồ sơ", "Dossier looked up"),
    "dossier.digitised": ("Số hóa giấy tờ tại Bộ phận Một cửa", "Papers digitised"),
    "dossier.apology_issued": ("Lập văn bản xin lỗi (Mẫu 04)", "Apology issued"),
    "dossier.due_extended": ("Hẹn lại ngày trả kết quả", "Due date moved"),
    "dossier.stopped": ("Dừng giải quyết hồ sơ (Mẫu 05)", "Processing stopped"),
    "dossier.stop_notice_issued": ("Ban hành thông báo dừng giải quyết (Mẫu 05)", "Stop notice issued"),
    "document.stored": ("Lưu tài liệu", "Document stored"),
    "document.read": ("Xem tài liệu", "Document read"),
    "result.draft_viewed": ("Xem dự thảo kết quả trước khi phê duyệt", "Draft result read before approval"),
    "document.filed": ("Lưu giấy tờ vào thư mục của hồ sơ", "Document filed under the dossier"),
    "document.numbered": ("Vào sổ, ghi số văn bản", "Document numbered"),
    "document.integrity_failed": ("Tài liệu lưu trữ bị sai lệch", "Stored document failed its check"),
    "signature.requested": ("Chuẩn bị văn bản để ký số", "Signature prepared"),
    "signature.applied": ("Ký số", "Signature applied"),
    "signature.verified": ("Kiểm tra chữ ký số", "Signature verified"),
    "task.claimed": ("Nhận xử lý", "Task claimed"),
    "task.unclaimed": ("Trả nhiệm vụ về phòng", "Task released"),
    "task.completed": ("Hoàn thành bước xử lý", "Step completed"),
    "step.escalated": ("Cảnh báo bước xử lý quá hạn", "Step overdue warning"),
    "deadline.near": ("Cảnh báo hồ sơ sắp đến hạn", "Due date near"),
    "payment.requested": ("Yêu cầu thanh toán phí, lệ phí", "Payment requested"),
    "payment.recorded": ("Ghi nhận thanh toán", "Payment recorded"),
    "payment.confirmed": ("Xác nhận đã thanh toán", "Payment confirmed"),
    "payment.failed": ("Thanh toán không thành công", "Payment failed"),
    "exchange.queued": ("Chuẩn bị chuyển hồ sơ liên thông", "Hand-off queued"),
    "exchange.delivered": ("Chuyển hồ sơ liên thông", "Hand-off delivered"),
    "exchange.acknowledged": ("Cơ quan phối hợp đã nhận hồ sơ liên thông", "Hand-off acknowledged"),
    "exchange.refused": ("Cơ quan phối hợp từ chối hồ sơ liên thông", "Hand-off refused"),
    "exchange.received": ("Nhận hồ sơ liên thông", "Hand-off received"),
    "exchange.rejected": ("Không nhận hồ sơ liên thông (phong bì không hợp lệ)", "Envelope rejected"),
    "exchange.retry_requested": ("Gửi lại hồ sơ liên thông", "Hand-off resent"),
    "incident.created": ("Bước tự động bị lỗi (sự cố)", "Incident"),
    "incident.retried": ("Chạy lại bước tự động bị lỗi", "Incident retried"),
    "late.notice_opened": ("Cảnh báo trễ hạn", "Late notice opened"),
    "notification.sent": ("Gửi thông báo cho công dân", "Notification sent"),
    "notification.failed": ("Gửi thông báo không thành công", "Notification failed"),
    "notification.requeued": ("Gửi lại thông báo bị lỗi", "Notification requeued"),
    "evidence.exported": ("Xuất gói chứng cứ", "Evidence package exported"),
    "control_sheet.issued": ("Lập phiếu kiểm soát quá trình giải quyết", "Control sheet issued"),
    "tracking_register.exported": ("Xuất sổ theo dõi hồ sơ", "Tracking register exported"),
    "tracking_register.read": ("Xem sổ theo dõi hồ sơ", "Tracking register read"),
    "statistics.read": ("Xem số liệu thống kê", "Statistics read"),
    "statistics.exported": ("Xuất số liệu thống kê", "Statistics exported"),
    "user.login": ("Đăng nhập", "Logged in"),
    "user.login_oidc": ("Đăng nhập một lần (định danh điện tử)", "Logged in (single sign-on)"),
    "user.login_failed": ("Đăng nhập không thành công", "Login failed"),
    "admin.user_saved": ("Lưu tài khoản người dùng", "Account saved"),
    "admin.user_deactivated": ("Khóa tài khoản người dùng", "Account deactivated"),
    "admin.user_reactivated": ("Mở lại tài khoản người dùng", "Account reactivated"),
    "procedure.draft_created": ("Tạo bản nháp thủ tục hành chính", "Procedure draft created"),
    "procedure.draft_saved": ("Lưu bản nháp thủ tục hành chính", "Procedure draft saved"),
    "procedure.draft_discarded": ("Hủy bản nháp thủ tục hành chính", "Procedure draft discarded"),
    "procedure.imported": ("Nhập thủ tục hành chính từ tệp", "Procedure imported"),
    "procedure.published": ("Công bố phiên bản thủ tục hành chính", "Procedure version published"),
    "admin.calendar_override_added": ("Thêm ngày nghỉ, ngày làm bù", "Calendar override added"),
    "admin.calendar_override_removed": ("Xóa ngày nghỉ, ngày làm bù", "Calendar override removed"),
    "admin.certificate_registered": ("Đăng ký chứng thư số của cán bộ", "Official's certificate registered"),
    "samples.created": ("Tạo hồ sơ mẫu cho lần chạy đầu tiên", "Sample dossiers made on the first run"),
    "certificate.development_issued": ("Cấp chứng thư số thử nghiệm cho cán bộ", "Development certificate issued"),
    "engine.migrated": ("Chuyển hồ sơ sang máy xử lý quy trình mới", "Moved to the new process engine"),
    "clock.advanced": ("Chỉnh đồng hồ (bản trình diễn)", "Clock advanced (demo)"),
}
UNKNOWN_EVENT: Message = ("Sự kiện khác", "Other event")

# The keys of an audit entry's details, in the order they are shown; the others stay in the technical view.
DETAIL_KEYS: Mapping[str, Message] = {
    "status": ("Trạng thái mới", "New status"),
    "previous": ("Trạng thái trước", "Previous status"),
    "task": ("Bước", "Step"),
    "step": ("Bước", "Step"),
    "activity_id": ("Bước", "Step"),
    "decision": ("Quyết định", "Decision"),
    "comment": ("Ý kiến", "Comment"),
    "reason": ("Lý do", "Reason"),
    "kind": ("Loại tài liệu", "Document kind"),
    "paper": ("Giấy tờ", "Paper"),
    "filename": ("Tên tệp", "File name"),
    "files": ("Số tệp", "Files"),
    "channel": ("Kênh", "Channel"),
    "via": ("Qua", "Via"),
    "due_at": ("Hạn giải quyết", "Due"),
    "step_due_at": ("Hạn của bước", "Step due"),
    "old_due_at": ("Hạn cũ", "Old due date"),
    "new_due_at": ("Hạn mới", "New due date"),
    "number": ("Số vào sổ", "Register number"),
    "level": ("Mức hài lòng", "Rating"),
    "commented": ("Có góp ý", "With a comment"),
    "signer": ("Người ký", "Signer"),
    "indication": ("Kết quả kiểm tra", "Validation"),
    "amount_vnd": ("Số tiền", "Amount"),
    "retries": ("Số lần thử lại", "Retries"),
    "role": ("Vai trò", "Role"),
    "username": ("Tài khoản", "Account"),
    "day": ("Ngày", "Day"),
}
VIA: Mapping[str, Message] = {
    "public_link": ("Đường dẫn tải kết quả trên trang tra cứu", "The public lookup's download link"),
}
INDICATIONS: Mapping[str, Message] = {
    "TOTAL-PASSED": ("Đạt", "Passed"),
    "TOTAL-FAILED": ("Không đạt", "Failed"),
    "INDETERMINATE": ("Chưa xác định", "Indeterminate"),
}
# details shown on the officials' history (the auditor's trail shows every known key)
BRIEF_KEYS = ("status", "task", "step", "decision", "reason", "kind", "paper", "files", "due_at", "new_due_at")

# Who an actor that is not a person is; a ``system:…`` actor not listed is "Hệ thống".
SYSTEM_ACTORS: Mapping[str, Message] = {
    "system:worker": ("Hệ thống", "System"),
    "system:exchange": ("Hệ thống (liên thông)", "System (exchange)"),
    "system:late": ("Hệ thống (theo dõi thời hạn)", "System (due dates)"),
    "system:letters": ("Hệ thống (đóng dấu văn bản lãnh đạo đã ký)", "System (seals letters the head signed)"),
    "system:notifier": ("Hệ thống (gửi thông báo)", "System (notifications)"),
    "system:payment-gateway": ("Cổng thanh toán", "Payment gateway"),
    "system:pki": ("Hệ thống (chứng thư số)", "System (certificates)"),
    "system:samples": ("Hệ thống (hồ sơ mẫu)", "System (sample dossiers)"),
    "public": ("Công dân (trang tra cứu công khai)", "Citizen (public pages)"),
    "cli": ("Quản trị hệ thống (dòng lệnh)", "Administrator (command line)"),
}
SYSTEM: Message = ("Hệ thống", "System")
PARTNER_OFFICIAL: Message = ("Cán bộ cơ quan phối hợp (liên thông)", "Official of a partner agency")
SEAL: Message = ("Con dấu điện tử của cơ quan", "The agency's electronic seal")
UNKNOWN_PERSON: Message = ("Tài khoản không còn trong hệ thống", "Unknown account")

# Step ids many processes share, for a dossier whose BPMN file cannot be read.
STEPS: Mapping[str, Message] = {
    "accept": ("Ghi nhận hồ sơ, tính hạn giải quyết", "Record the dossier, compute the due date"),
    "issue_receipt": ("Lập Giấy tiếp nhận hồ sơ và hẹn trả kết quả (Mẫu 01)", "Issue the receipt (form 01)"),
    "review": ("Thẩm định hồ sơ", "Review"),
    "approve": ("Phê duyệt kết quả", "Approval"),
    "prepare_result": ("Lập kết quả giải quyết", "Prepare the result"),
    "sign_result": ("Lãnh đạo ký số kết quả", "Sign the result"),
    "register_number": ("Vào sổ, ghi số và ngày văn bản", "Number the result"),
    "seal_result": ("Đóng dấu (ký số của cơ quan)", "Seal the result"),
    "result_ready": ("Ghi nhận kết quả giải quyết", "Result ready"),
    "return_result": ("Trả kết quả cho công dân", "Return the result"),
    "request_supplement": ("Yêu cầu bổ sung hồ sơ", "Ask for a supplement"),
    "supplement_received": ("Công dân nộp bổ sung", "Supplement received"),
    "resume": ("Tiếp tục tính thời gian giải quyết", "Resume the clock"),
    "refuse": ("Từ chối giải quyết hồ sơ", "Refuse"),
    "warn_due": ("Cảnh báo hồ sơ sắp đến hạn", "Due date warning"),
}
UNKNOWN_STEP: Message = ("Bước xử lý khác", "Other step")

# External-task topics, as the procedure designer's side panel offers them (what the automatic step does).
TOPICS: Mapping[str, Message] = {
    "dossier.accept": ("Ghi nhận hồ sơ, tính hạn giải quyết", "Record the dossier, compute the due date"),
    "documents.receipt": ("Lập Giấy tiếp nhận hồ sơ và hẹn trả kết quả (Mẫu 01)", "Issue the receipt (form 01)"),
    "result.prepare": ("Lập văn bản kết quả theo mẫu, chuẩn bị chữ ký", "Prepare the result from its template"),
    "result.seal": ("Điền số, ngày và đóng dấu điện tử của cơ quan", "Number, date and seal the result"),
    "dossier.result_ready": ("Chuyển kết quả về Bộ phận Một cửa", "Result ready at the desk"),
    "dossier.close": ("Kết thúc hồ sơ", "Close the dossier"),
    "dossier.request_supplement": ("Lập Phiếu yêu cầu bổ sung (Mẫu 02), tạm dừng tính thời gian", "Ask for papers"),
    "dossier.resume": ("Tiếp tục tính thời gian giải quyết", "Resume the clock"),
    "dossier.refuse": ("Lập Phiếu từ chối giải quyết hồ sơ (Mẫu 03)", "Refuse (form 03)"),
    "dossier.warn_due": ("Cảnh báo hồ sơ sắp đến hạn", "Due date warning"),
    "exchange.send": ("Gửi hồ sơ sang cơ quan phối hợp (liên thông)", "Send to a partner agency"),
    "exchange.reply": ("Trả lời cơ quan gửi hồ sơ liên thông", "Reply to the sending agency"),
    "step.plan": ("Lập kế hoạch thời gian các bước", "Plan the steps' due dates"),
    "step.reschedule": ("Tính lại hạn các bước", "Reschedule the steps"),
    "step.escalate": ("Báo cáo bước quá hạn lên lãnh đạo", "Escalate a late step"),
    "documents.tax_notice": ("Lập Thông báo nộp tiền (nghĩa vụ tài chính)", "Issue the tax notice"),
    "documents.inspection_record": ("Lập Biên bản kiểm tra hiện trạng", "Record the site inspection"),
}
UNKNOWN_TOPIC: Message = ("Tác vụ tự động khác", "Other automatic step")


def topic_label(topic: str) -> Message:
    """A topic the table does not know is still told apart from the others (the designer's select lists them
    all): the generic words, then the step's kind as the worker registry names it."""
    known = TOPICS.get(topic)
    if known:
        return known
    return (f"{UNKNOWN_TOPIC[0]} ({topic.split('.')[-1].replace('_', ' ')})", f"{UNKNOWN_TOPIC[1]} ({topic})")


# ---------------------------------------------------------------------- incidents

# What an automatic step's failure most likely means, for the administrator (the technical text stays beside it).
INCIDENT_CAUSES: tuple[tuple[re.Pattern[str], Message], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), message)
    for pattern, message in (
        (
            r"\.p12|pkcs|pki|seal key|signing key|private key|certificate|passphrase|khóa ký|chứng thư",
            (
                "Không ký số được: tệp khóa ký số hoặc chứng thư số của cơ quan không dùng được (thiếu tệp, sai "
                "mật khẩu hoặc chứng thư đã hết hạn).",
                "Signing failed: the agency's key file or certificate cannot be used.",
            ),
        ),
        (
            r"timeout|timed out|time limit|quá thời gian",
            ("Bước tự động chạy quá thời gian cho phép.", "The step took longer than allowed."),
        ),
        (
            r"connect|unreachable|refused the connection|name or service|network|operationalerror",
            (
                "Không kết nối được tới một máy chủ cần thiết (cơ sở dữ liệu, máy xử lý quy trình hoặc hệ thống "
                "của cơ quan phối hợp).",
                "A server the step needs could not be reached.",
            ),
        ),
        (
            r"no space|disk|permission|storage|bucket|s3|oserror|filenotfound|no such file",
            (
                "Không đọc hoặc ghi được tệp: kho lưu trữ tài liệu hoặc ổ đĩa của máy chủ có vấn đề.",
                "A file could not be read or written: check the document store or the disk.",
            ),
        ),
        (
            r"engine refused|refused the completion",
            (
                "Máy xử lý quy trình không ghi nhận kết quả của bước (quy trình có thể đã thay đổi).",
                "The process engine refused the step's completion.",
            ),
        ),
        (
            r"render|pdf|font|reportlab",
            ("Không tạo được văn bản PDF của bước này.", "The step's PDF could not be made."),
        ),
    )
)
INCIDENT_GENERIC: Message = (
    "Bước tự động bị lỗi nhiều lần liên tiếp nên đã dừng lại.",
    "The automatic step failed every retry and stopped.",
)
INCIDENT_ADVICE: Message = (
    "Khắc phục nguyên nhân (xem chi tiết kỹ thuật nếu cần) rồi bấm “Chạy lại”.",
    "Fix the cause (see the technical details if needed), then press “Retry”.",
)


def incident_cause(message: str) -> Message:
    for pattern, cause in INCIDENT_CAUSES:
        if pattern.search(message or ""):
            return cause
    return INCIDENT_GENERIC


# ---------------------------------------------------------------------- one label of a table


def status(value: str | None) -> Message:
    try:
        state = DossierStatus(value or "")
    except ValueError:
        return UNKNOWN_STATUS
    return (STATUS_LABELS_VI[state], STATUS_EN.get(state.value, STATUS_LABELS_VI[state]))


def document_kind(kind: str | None) -> Message:
    return DOCUMENT_KINDS.get(kind or "", UNKNOWN_DOCUMENT)


def form_no(kind: str, when: dt.date | dt.datetime | str) -> Message:
    """``("Mẫu 06", "form 06")``: the number of the form serving ``kind`` in the set in force on ``when`` (a
    dossier's received time, also as ISO text; a period's last day); empty when that set has no such form."""
    found = form_number(kind, dt.datetime.fromisoformat(when) if isinstance(when, str) else when)
    return (f"Mẫu {found[0]}", f"form {found[0]}") if found else ("", "")


LETTERS_TO_SIGN: Mapping[str, Message] = {  # a letter the head signs personally: what the leader's list says
    "apology": ("Ký Phiếu xin lỗi và xin gia hạn (Mẫu 04)", "Sign the apology and extension request (form 04)"),
    "stop_notice": ("Ký Thông báo dừng xử lý hồ sơ (Mẫu 05)", "Sign the notice that processing stops (form 05)"),
}
AWAITING_HEAD: Message = ("chờ lãnh đạo ký", "waiting for the head's signature")


def letter_to_sign(kind: str) -> Message:
    return LETTERS_TO_SIGN.get(kind, ("Ký văn bản", "Sign a document"))


def event(kind: str | None) -> Message:
    return EVENTS.get(kind or "", UNKNOWN_EVENT)


def decision(value: str | None) -> Message:
    return DECISIONS.get(value or "", UNKNOWN_DECISION)


def channel(value: str | None) -> Message:
    return CHANNELS.get(value or "", UNKNOWN_CHANNEL)


def role(value: str | None) -> Message:
    return ROLES.get(value or "", UNKNOWN_ROLE)


def system_actor(actor: str) -> Message | None:
    """The label of an actor that is not a person's account (None: a person)."""
    if actor in SYSTEM_ACTORS:
        return SYSTEM_ACTORS[actor]
    if actor.startswith("system"):
        return SYSTEM
    if "@" in actor:  # ``by@sender``: an official of a partner installation (services.receiving)
        return PARTNER_OFFICIAL
    return None


def value_text(value: Any) -> str:
    """A value declared on an application form as people write it: lists one after another, amounts with dots
    between thousands, days as dd/mm/yyyy (stored yyyy-mm-dd)."""
    if isinstance(value, list):
        return "; ".join(value_text(v) for v in value)
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    return day_text(value)


def day_text(value: Any) -> str:
    """A date (or the date of an ISO text) as dd/mm/yyyy; what is not a date stays as it is."""
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%d/%m/%Y")
    text = str(value or "")
    try:
        return dt.date.fromisoformat(text[:10]).strftime("%d/%m/%Y") if ISO_DAY.match(text) else text
    except ValueError:
        return text


ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RDN = re.compile(r"(?:^|,)(CN|O)=((?:\\.|[^,\\])+)")


def subject_name(subject: str | None) -> str:
    """Who a certificate names, as people read it: its common name and organisation (``Phạm Văn Hùng — UBND xã
    …``) from an RFC 4514 subject; the whole subject (with its user id) stays for the technical view."""
    parts = {kind: re.sub(r"\\(.)", r"\1", value) for kind, value in _RDN.findall(subject or "")}
    shown = " — ".join(v for v in (parts.get("CN"), parts.get("O")) if v)
    return shown or "Không xác định"


# ---------------------------------------------------------------------- step names from the BPMN files


@lru_cache(maxsize=64)
def _names_in(path: str, mtime_ns: int) -> dict[str, str]:
    root = etree.parse(path).getroot()  # noqa: S320 - the application's own process files
    return {
        el.get("id", ""): " ".join(str(el.get("name")).split())
        for el in root.iter()
        if isinstance(el.tag, str) and el.tag.startswith(f"{{{BPMN_NS}}}") and el.get("id") and el.get("name")
    }


def process_step_names(process_key: str, bpmn_dirs: Iterable[Path]) -> dict[str, str]:
    """Element id → the ``name`` officials read, for the process ``process_key`` (empty when not found)."""
    for directory in bpmn_dirs:
        path = bpmn_file_for(process_key, directory)
        if path is not None:
            return _names_in(str(path), path.stat().st_mtime_ns)
    return {}


# ---------------------------------------------------------------------- the helper of one page


class Labels:
    """The labels of one page, in its language; people's names and the dossiers' step names are read once."""

    def __init__(self, runtime: Any, lang: str = "vi") -> None:
        self.runtime = runtime
        self.lang = lang
        self._people: dict[str, Any] | None = None
        self._dossiers: dict[str, tuple[dict[str, str], dict[str, str]]] = {}

    def t(self, message: Message) -> str:
        return message[1] if self.lang == "en" else message[0]

    # tables
    def status(self, value: str | None) -> str:
        return self.t(status(value))

    def document(self, kind: str | None) -> str:
        return self.t(document_kind(kind))

    def event(self, kind: str | None) -> str:
        return self.t(event(kind))

    def decision(self, value: str | None) -> str:
        return self.t(decision(value))

    def channel(self, value: str | None) -> str:
        return self.t(channel(value))

    def role(self, value: str | None) -> str:
        return self.t(role(value))

    def incident(self, message: str) -> str:
        return self.t(incident_cause(message))

    def day(self, value: Any) -> str:
        return day_text(value)

    def form_no(self, kind: str, when: Any = None) -> str:
        """``Mẫu 06``: the form number for ``kind`` of the set in force on ``when`` (default: today)."""
        return self.t(form_no(kind, when or self.runtime.clock.now()))

    # people
    def person(self, actor: str | None) -> str:
        """A person's full name and title (``Trần Thị Bình (Chuyên viên)``), never the login name."""
        actor = actor or ""
        system = system_actor(actor)
        if system is not None:
            return self.t(system)
        if self._people is None:
            try:
                self._people = {p.username: p for p in self.runtime.accounts.list()}
            except Exception:  # noqa: BLE001 - a page still shows its history without the accounts
                self._people = {}
        found = self._people.get(actor)
        if found is None:
            return self.t(UNKNOWN_PERSON)
        return f"{found.full_name} ({self.role(found.role.value)})"

    def signer(self, key_id: str) -> str:
        """A signing key's owner: ``person:<username>`` an official, ``agency:<code>`` an agency's seal."""
        kind, _, name = key_id.partition(":")
        if kind == "person" and name:
            return self.person(name)
        if kind == "agency" and name:
            agency = self._agency_name(name)
            return self.t(("Con dấu điện tử của ", "Electronic seal of ")) + agency if agency else self.t(SEAL)
        return self.person(key_id)

    def _agency_name(self, code: str) -> str:
        try:
            for agency in self.runtime.shop.structure_now().agencies:
                if agency.code == code:
                    return str(agency.name)
        except Exception:  # noqa: BLE001 - the seal is still named as a seal
            return ""
        return ""

    # the dossier's process and papers
    def _of_dossier(self, code: str | None) -> tuple[dict[str, str], dict[str, str]]:
        """(step id → name, paper key → name) of a dossier's procedure; empty when it cannot be read."""
        if not code:
            return {}, {}
        if code not in self._dossiers:
            try:
                shop = self.runtime.shop
                procedure = shop.procedure_of(shop.dossier_row(code))
                steps = process_step_names(procedure.process_key, shop.bpmn_dirs)
                papers = {p.key: p.name for p in procedure.papers}
            except Exception:  # noqa: BLE001 - the generic names below still read well
                steps, papers = {}, {}
            self._dossiers[code] = (steps, papers)
        return self._dossiers[code]

    def step(self, step_id: str | None, code: str | None = None) -> str:
        """The Vietnamese name of a step of the dossier's process (``accept`` → "Ghi nhận hồ sơ, …")."""
        step_id = (step_id or "").removeprefix("escalate_")
        names, _papers = self._of_dossier(code)
        if step_id in names and self.lang != "en":
            return names[step_id]
        return self.t(STEPS.get(step_id) or ((names[step_id], names[step_id]) if step_id in names else UNKNOWN_STEP))

    def paper(self, key: str | None, code: str | None = None) -> str:
        _steps, papers = self._of_dossier(code)
        return papers.get(key or "") or self.t(("Giấy tờ khác", "Other paper"))

    # an audit entry's details
    def details(self, entry: Mapping[str, Any], code: str | None = None, *, brief: bool = False) -> list[Message]:
        """(label, value) rows of what an audit entry says, in words; ``brief``: only what an official reads
        in a dossier's history. Keys without a label are left to the technical view."""
        details = entry.get("details") or {}
        code = code or entry.get("dossier_code")
        shown = BRIEF_KEYS if brief else tuple(DETAIL_KEYS)
        rows: list[Message] = []
        seen_step = False
        for key in shown:
            value = details.get(key)
            if value in (None, "", [], {}):
                continue
            if key in ("task", "step", "activity_id"):
                if seen_step:
                    continue
                seen_step = True
            text = self._value(key, value, code, entry)
            if text:
                rows.append((self.t(DETAIL_KEYS[key]), text))
        return rows

    def _value(self, key: str, value: Any, code: str | None, entry: Mapping[str, Any]) -> str:
        formats: dict[str, Callable[[Any], str]] = {
            "status": self.status,
            "previous": self.status,
            "task": lambda v: self.step(str(v), code),
            "step": lambda v: self.step(str(v), code),
            "activity_id": lambda v: self.step(str(v), code),
            "decision": self.decision,
            "kind": self.document,
            "paper": lambda v: self.paper(str(v), code),
            "channel": self.channel,
            "via": lambda v: self.t(VIA.get(str(v), ("Đường dẫn khác", "Other link"))),
            "signer": lambda v: self.signer(str(v)),
            "username": lambda v: self.person(str(v)),
            "role": self.role,
            "indication": lambda v: self.t(INDICATIONS.get(str(v), UNKNOWN_STATUS)),
            "commented": lambda v: self.t(("Có", "Yes") if v else ("Không", "No")),
            "amount_vnd": lambda v: f"{int(v):,}".replace(",", ".") + " đ" if str(v).isdigit() else str(v),
            "comment": lambda v: f"“{v}”",
            "reason": lambda v: f"“{v}”",
        }
        if key.endswith("due_at"):
            return _moment_text(value)
        if key == "day":
            return day_text(value)
        if key in formats:
            return str(formats[key](value))
        if isinstance(value, bool):
            return self.t(("Có", "Yes") if value else ("Không", "No"))
        if isinstance(value, list | dict):
            return str(len(value))
        return str(value)


def local_time(value: Any, fmt: str = "%H:%M %d/%m/%Y") -> str:
    """An ISO string or datetime shown in Vietnam's time (the pages' ``local_time`` filter)."""
    if value in (None, ""):
        return ""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(VN_TZ)
    return str(moment.strftime(fmt))


def _moment_text(value: Any) -> str:
    try:
        return local_time(value)
    except (TypeError, ValueError, AttributeError):
        return str(value)


def problems_read(problems: Iterable[str], lang: str) -> list[str]:
    """The catalogue checks' problems are written "Vietnamese / English" (:mod:`dossiers.problems`): a Vietnamese
    page shows the Vietnamese part, which says where the problem is; an English page shows both."""
    return list(problems) if lang == "en" else [vietnamese(p) for p in problems]
