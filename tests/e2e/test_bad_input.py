"""Bad input through the HTTP API: every refusal is an ``application/problem+json`` with a Vietnamese
``title`` and an English ``detail`` naming the problem, and leaves the database, the object store and the
audit log exactly as they were (no dossier row, no document row, no object file, no audit entry)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dossiers.clock import SimulatedClock
from dossiers.model import Role
from motcua.app import DEMO_PASSWORD, Runtime
from persistence.schema import audit_log, document, dossier, dossier_counter, wf_instance, wf_user_task
from persistence.uow import transaction
from services.intake import Applicant
from services.uploads import Upload
from tests.conftest import COMMUNE, HOUSEHOLD_BUSINESS, HOUSEHOLD_DETAILS, OTHER_COMMUNE, Api, minimal_pdf

MB = 1024 * 1024
BOUNDARY = "motcua-test-boundary"


# ---------------------------------------------------------------- helpers


def object_files(runtime: Runtime) -> set[str]:
    """Every object file under the store root, ignoring the ``.tmp`` spool directory."""
    root = Path(runtime.settings.objects_dir)
    if not root.exists():
        return set()
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".tmp" not in p.relative_to(root).parts
    }


def snapshot(runtime: Runtime) -> dict[str, Any]:
    """What a refused request must leave untouched."""
    with transaction(runtime.db) as conn:
        return {
            "dossiers": sorted(conn.execute(select(dossier.c.code)).scalars()),
            "documents": conn.execute(select(func.count()).select_from(document)).scalar_one(),
            "audit": conn.execute(select(func.count(), func.max(audit_log.c.seq)).select_from(audit_log)).one()[:],
            "counters": sorted(tuple(r) for r in conn.execute(select(dossier_counter)).all()),
            "instances": conn.execute(select(func.count()).select_from(wf_instance)).scalar_one(),
            "tasks": sorted(tuple(r) for r in conn.execute(select(wf_user_task.c.id, wf_user_task.c.assignee)).all()),
            "objects": object_files(runtime),
        }


def assert_problem(r: Any, status: int, *detail_parts: str, title_parts: tuple[str, ...] = ()) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    title, detail = body["title"], body["detail"]
    # a Vietnamese title (it carries diacritics) and an English detail
    assert title and any(ord(c) > 127 for c in title), title
    assert detail and detail != title, detail
    for part in detail_parts:
        assert part in detail, (part, detail)
    for part in title_parts:
        assert part in title, (part, title)
    return body


def pdf_files(**papers: bytes) -> dict[str, tuple[str, bytes, str]]:
    return {f"paper.{key}": (f"{key}.pdf", data, "application/pdf") for key, data in papers.items()}


def good_files() -> dict[str, tuple[str, bytes, str]]:
    return pdf_files(giay_de_nghi=minimal_pdf("de nghi"), giay_to_phap_ly=minimal_pdf("cccd"))


def with_bad_cccd(filename: str, data: bytes, content_type: str) -> dict[str, tuple[str, bytes, str]]:
    """A valid request form except for the second paper."""
    files = good_files()
    files["paper.giay_to_phap_ly"] = (filename, data, content_type)
    return files


def add_person(
    runtime: Runtime, username: str, role: Role, agency_code: str | None, department_code: str | None
) -> None:
    runtime.accounts.add(username, DEMO_PASSWORD, username, role, agency_code, department_code, runtime.clock.now())


def encrypted_pdf() -> bytes:
    from pyhanko.pdf_utils.crypt import StandardSecurityHandler
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(minimal_pdf("secret"))))
    writer._assign_security_handler(StandardSecurityHandler.build_from_pw("owner-secret", "user-secret"))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def padded_pdf(size: int) -> bytes:
    """A valid PDF of about ``size`` bytes: the padding sits in an unreferenced stream object, so the
    EOF marker and the cross-reference table stay where a strict reader looks for them."""
    base = minimal_pdf("padded")
    xref_at = base.rindex(b"\nxref\n") + 1
    startxref = base.rindex(b"startxref")
    padding = b"0" * max(size - len(base), 0)
    extra = b"6 0 obj\n<< /Length " + str(len(padding)).encode() + b" >>\nstream\n" + padding + b"\nendstream\nendobj\n"
    xref = base[xref_at:startxref].replace(b"xref\n0 6\n", b"xref\n0 7\n").replace(b"/Size 6", b"/Size 7")
    xref = xref.replace(b"trailer", f"{xref_at:010d} 00000 n \ntrailer".encode())
    out = base[:xref_at] + extra + xref + b"startxref\n" + str(xref_at + len(extra)).encode() + b"\n%%EOF\n"
    return out


def pdf_without_pages() -> bytes:
    """Well-formed syntax, but a page tree that claims zero pages."""
    return minimal_pdf().replace(b"/Count 1", b"/Count 0")


def in_progress_dossier(api: Api) -> str:
    r = api.submit()
    assert r.status_code == 201, r.text
    api.work()  # dossier.accept → the review task
    return str(r.json()["code"])


# ---------------------------------------------------------------- intake: procedure, papers, applicant


def test_unknown_procedure_is_refused(api: Api) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    body = assert_problem(
        api.submit(procedure="9.999999"), 422, "Unknown procedure '9.999999'", title_parts=("thủ tục",)
    )
    assert body["procedure_code"] == "9.999999"
    assert snapshot(api.runtime) == before


def test_missing_required_paper_is_named(api: Api) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    r = api.submit(files=pdf_files(giay_de_nghi=minimal_pdf()))
    body = assert_problem(
        r,
        422,
        "Missing required papers: giay_to_phap_ly",
        title_parts=("thiếu", "Bản sao giấy tờ pháp lý của cá nhân chủ hộ kinh doanh"),
    )
    assert body["missing"] == ["giay_to_phap_ly"]
    assert "giay_de_nghi" not in body["detail"]
    assert snapshot(api.runtime) == before


def test_no_files_at_all_names_every_mandatory_paper(api: Api) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    data = {
        "procedure_code": HOUSEHOLD_BUSINESS,
        "applicant_name": "Nguyễn Văn An",
        "applicant_id_number": "001090012345",
    }
    # multipart without any file part
    r = api.post("/api/dossiers", "tiepnhan.xa1", data=data, files={"x": (None, b"")})
    body = assert_problem(r, 422, "giay_de_nghi", "giay_to_phap_ly")
    assert body["missing"] == ["giay_de_nghi", "giay_to_phap_ly"]
    assert "bien_ban_hop" not in body["detail"]  # optional paper
    assert snapshot(api.runtime) == before


def test_unknown_paper_key_is_refused(api: Api) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    files = good_files() | pdf_files(giay_khai_sinh=minimal_pdf("extra"))
    body = assert_problem(api.submit(files=files), 422, "Papers not part of procedure 1.001612: giay_khai_sinh")
    assert body["unknown"] == ["giay_khai_sinh"]
    assert snapshot(api.runtime) == before


def test_file_field_not_named_after_a_paper_is_refused(api: Api) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    files = good_files() | {"attachment": ("x.pdf", minimal_pdf(), "application/pdf")}
    assert_problem(api.submit(files=files), 422, "File field 'attachment' must be named paper.<paper key>")
    assert snapshot(api.runtime) == before


@pytest.mark.parametrize("id_number", ["12345", "00109001234X", "0010900123456", "", "   "])
def test_invalid_applicant_id_number_is_refused(api: Api, id_number: str) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    r = api.submit(applicant_id_number=id_number)
    assert_problem(r, 422, "personal ID number must have 12 digits", title_parts=("định danh",))
    assert snapshot(api.runtime) == before


def test_non_multipart_body_is_refused(api: Api) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    r = api.post("/api/dossiers", "tiepnhan.xa1", json={"procedure_code": HOUSEHOLD_BUSINESS})
    assert_problem(r, 422, "multipart/form-data", title_parts=("multipart/form-data",))
    r = api.post("/api/dossiers", "tiepnhan.xa1", data={"procedure_code": HOUSEHOLD_BUSINESS})  # url-encoded
    assert_problem(r, 422, "multipart/form-data")
    assert snapshot(api.runtime) == before


def test_reception_of_another_commune_cannot_register_here(api: Api) -> None:
    add_person(api.runtime, "tiepnhan.xa2", Role.RECEPTION, OTHER_COMMUNE, f"{OTHER_COMMUNE}-TTPVHCC")
    api.token("tiepnhan.xa2")
    before = snapshot(api.runtime)
    r = api.submit(as_user="tiepnhan.xa2", agency_code=COMMUNE)
    assert_problem(r, 403, "own agency only", title_parts=("cơ quan",))
    assert snapshot(api.runtime) == before


# ---------------------------------------------------------------- intake: file content


@pytest.mark.parametrize(
    ("filename", "data", "content_type", "detail"),
    [
        pytest.param(
            "setup.exe",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200,
            "application/pdf",
            "The content of 'setup.exe' is not application/pdf",
            id="exe-declared-pdf",
        ),
        pytest.param(
            "cccd.pdf",
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 200,
            "application/pdf",
            "The content of 'cccd.pdf' is not application/pdf",
            id="zip-declared-pdf",
        ),
        pytest.param(
            "cccd.txt",
            "Căn cước công dân".encode(),
            "text/plain",
            "File 'cccd.txt' has type text/plain, which is not accepted",
            id="text-plain",
        ),
        pytest.param(
            "cccd.zip",
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 200,
            "application/zip",
            "File 'cccd.zip' has type application/zip, which is not accepted",
            id="zip-declared-zip",
        ),
        pytest.param(
            "cccd.jpg",
            minimal_pdf(),
            "image/jpeg",
            "The content of 'cccd.jpg' is not image/jpeg (looks like application/pdf)",
            id="pdf-declared-jpeg",
        ),
    ],
)
def test_wrong_file_type_is_refused(api: Api, filename: str, data: bytes, content_type: str, detail: str) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    body = assert_problem(api.submit(files=with_bad_cccd(filename, data, content_type)), 422, detail)
    assert body["filename"] == filename
    assert filename in body["title"]
    assert snapshot(api.runtime) == before


def test_empty_file_is_refused(api: Api) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    body = assert_problem(
        api.submit(files=with_bad_cccd("cccd.pdf", b"", "application/pdf")),
        422,
        "File 'cccd.pdf' is empty",
        title_parts=("rỗng",),
    )
    assert body["filename"] == "cccd.pdf"
    assert snapshot(api.runtime) == before


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        pytest.param(minimal_pdf()[: len(minimal_pdf()) // 2], "corrupt or unreadable", id="truncated"),
        pytest.param(minimal_pdf()[:-60], "corrupt or unreadable", id="cut-before-xref"),
        pytest.param(b"%PDF-" + bytes(range(256)) * 8, "corrupt or unreadable", id="garbage-after-magic"),
        pytest.param(b"%PDF-1.7\n", "corrupt or unreadable", id="header-only"),
        pytest.param(pdf_without_pages(), "corrupt or unreadable", id="no-pages"),
        pytest.param(encrypted_pdf(), "is encrypted", id="encrypted"),
    ],
)
def test_corrupt_or_hostile_pdf_is_refused(api: Api, data: bytes, detail: str) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    body = assert_problem(
        api.submit(files=with_bad_cccd("cccd.pdf", data, "application/pdf")), 422, "PDF 'cccd.pdf'", detail
    )
    assert body["filename"] == "cccd.pdf"
    assert "cccd.pdf" in body["title"]
    assert snapshot(api.runtime) == before


# ---------------------------------------------------------------- uploads over the limit


def _multipart_head(field: str, filename: str) -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="procedure_code"\r\n\r\n{HOUSEHOLD_BUSINESS}\r\n'
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode() + b"%PDF-1.7\n"


class CountingBody:
    """A multipart body of ``total`` bytes produced chunk by chunk, counting what was consumed."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total = total
        self.chunk = chunk
        self.consumed = 0

    def __iter__(self) -> Iterator[bytes]:
        head = _multipart_head("paper.giay_de_nghi", "big.pdf")
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.consumed += len(head)
        yield head
        left = self.total - len(head) - len(tail)
        while left > 0:
            piece = b"0" * min(self.chunk, left)
            left -= len(piece)
            self.consumed += len(piece)
            yield piece
        self.consumed += len(tail)
        yield tail


def _asgi_post(runtime: Runtime, token: str, body: CountingBody, content_length: int | None) -> tuple[int, dict, bytes]:
    """Drive the real ASGI application (body limit in front of FastAPI) with a streamed request, the way
    an ASGI server does: one ``http.request`` message per chunk, pulled only when the app asks."""
    from api.app import asgi

    app = asgi(runtime)
    chunks = iter(body)
    headers = [
        (b"host", b"testserver"),
        (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    headers.append(
        (b"transfer-encoding", b"chunked")
        if content_length is None
        else (b"content-length", str(content_length).encode())
    )
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/dossiers",
        "raw_path": b"/api/dossiers",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        piece = next(chunks, None)
        if piece is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": piece, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    starts = [m for m in messages if m["type"] == "http.response.start"]
    assert len(starts) == 1, messages
    response_headers = {k.decode().lower(): v.decode() for k, v in starts[0]["headers"]}
    payload = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return starts[0]["status"], response_headers, payload


def _assert_too_large(status: int, headers: dict[str, str], payload: bytes) -> None:
    assert status == 413, payload
    assert headers["content-type"].startswith("application/problem+json")
    body = json.loads(payload)
    assert body["status"] == 413
    assert "vượt quá" in body["title"]
    assert "exceeds the limit" in body["detail"]


def test_upload_over_the_limit_with_content_length_is_refused_before_reading(api: Api) -> None:
    token = api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    body = CountingBody(8 * MB)
    status, headers, payload = _asgi_post(api.runtime, token, body, content_length=8 * MB)
    _assert_too_large(status, headers, payload)
    assert body.consumed == 0  # refused from the Content-Length alone
    assert snapshot(api.runtime) == before


def test_upload_over_the_limit_with_content_length_through_http_client(api: Api) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    files = with_bad_cccd("cccd.pdf", b"%PDF-1.7\n" + b"0" * (8 * MB), "application/pdf")
    r = api.submit(files=files)
    assert_problem(r, 413, "exceeds the limit", title_parts=("vượt quá",))
    assert snapshot(api.runtime) == before


def test_chunked_upload_over_the_limit_is_refused_through_http_client(api: Api) -> None:
    """``content=`` a generator: httpx sends it chunked, without Content-Length. (TestClient's transport
    buffers the whole generator itself, so streaming is demonstrated by the ASGI test below.)"""
    headers = api.auth("tiepnhan.xa1") | {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    before = snapshot(api.runtime)
    body = CountingBody(8 * MB)
    r = api.client.post("/api/dossiers", headers=headers, content=iter(body))
    assert_problem(r, 413, "exceeds the limit", title_parts=("vượt quá",))
    assert snapshot(api.runtime) == before


def test_chunked_upload_over_the_limit_is_refused_while_streaming(api: Api) -> None:
    token = api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    body = CountingBody(8 * MB)
    status, headers, payload = _asgi_post(api.runtime, token, body, content_length=None)
    _assert_too_large(status, headers, payload)
    # the server stopped pulling the body right after the limit (2 MB + 1 MB for the form) was crossed
    limit = api.runtime.settings.max_upload_bytes + MB
    assert body.consumed <= limit + body.chunk + 1024
    assert body.consumed < 8 * MB // 2
    assert snapshot(api.runtime) == before


def test_chunked_upload_under_the_limit_still_goes_through_the_same_path(api: Api) -> None:
    """Control for the streaming test: a small chunked body reaches the application (and is refused
    there for its own reasons), so the 413 above really comes from the size."""
    token = api.token("tiepnhan.xa1")
    body = CountingBody(256 * 1024)
    status, headers, payload = _asgi_post(api.runtime, token, body, content_length=None)
    assert status == 422, payload
    assert body.consumed == body.total


def test_file_over_the_store_limit_but_under_the_body_limit_stores_nothing(api: Api) -> None:
    """2.5 MB passes the body limit (2 MB + 1 MB for the form) but not the configured 2 MB per file."""
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    big = padded_pdf(MB * 5 // 2)
    r = api.submit(files=pdf_files(giay_de_nghi=big, giay_to_phap_ly=minimal_pdf("cccd")))
    assert_problem(r, 413, "maximum allowed size", "2 MB", title_parts=("vượt quá",))
    assert snapshot(api.runtime) == before


def test_oversized_second_file_leaves_no_orphan_of_the_first(api: Api) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    big = padded_pdf(MB * 5 // 2)
    r = api.submit(files=pdf_files(giay_de_nghi=minimal_pdf("de nghi"), giay_to_phap_ly=big))
    assert_problem(r, 413, "maximum allowed size")
    assert snapshot(api.runtime) == before


# ---------------------------------------------------------------- tasks


def test_leader_cannot_act_on_a_specialist_task(api: Api) -> None:
    code = in_progress_dossier(api)
    task = api.task_for("chuyenvien1.xa1", code)
    assert task["candidate_groups"] == ["specialist"]
    api.token("lanhdao.xa1")
    before = snapshot(api.runtime)
    for action, kw in (("claim", {}), ("complete", {"json": {"decision": "approve"}})):
        r = api.post(f"/api/tasks/{task['id']}/{action}", "lanhdao.xa1", **kw)
        body = assert_problem(r, 403, "another department or role", title_parts=("bộ phận",))
        assert body["task_id"] == task["id"]
    assert snapshot(api.runtime) == before
    assert api.task_for("chuyenvien1.xa1", code)["assignee"] is None


@pytest.mark.parametrize(
    ("agency_code", "department_code"),
    [
        pytest.param(OTHER_COMMUNE, f"{OTHER_COMMUNE}-PKT", id="specialist-of-another-commune"),
        pytest.param(COMMUNE, f"{COMMUNE}-TTPVHCC", id="specialist-role-in-a-department-not-mapped-to-it"),
    ],
)
def test_specialist_of_another_department_cannot_act_on_the_task(
    api: Api, agency_code: str, department_code: str
) -> None:
    # both demo specialists' departments (PKT, VHXH) are mapped to the specialist role, so use outsiders
    code = in_progress_dossier(api)
    task = api.task_for("chuyenvien1.xa1", code)
    add_person(api.runtime, "chuyenvien.ngoai", Role.SPECIALIST, agency_code, department_code)
    assert api.get("/api/tasks", "chuyenvien.ngoai").json() == []  # not even listed
    before = snapshot(api.runtime)
    for action, kw in (("claim", {}), ("complete", {"json": {"decision": "approve"}})):
        r = api.post(f"/api/tasks/{task['id']}/{action}", "chuyenvien.ngoai", **kw)
        assert_problem(r, 403, "another department or role")
    assert snapshot(api.runtime) == before


def test_completed_task_is_gone(api: Api) -> None:
    code = in_progress_dossier(api)
    task = api.task_for("chuyenvien1.xa1", code)
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    before = snapshot(api.runtime)
    for action, kw in (("claim", {}), ("complete", {"json": {"decision": "approve"}}), ("unclaim", {})):
        r = api.post(f"/api/tasks/{task['id']}/{action}", "chuyenvien1.xa1", **kw)
        body = assert_problem(r, 404, "already completed", title_parts=("đã hoàn thành",))
        assert body["task_id"] == task["id"]
    assert snapshot(api.runtime) == before
    # the process moved on to the leader's approval, untouched by the retries
    assert api.task_for("lanhdao.xa1", code)["activity_id"] == "approve"


def test_unknown_task_id_is_not_found(api: Api) -> None:
    api.token("chuyenvien1.xa1")
    before = snapshot(api.runtime)
    r = api.post("/api/tasks/00000000-0000-0000-0000-000000000000/claim", "chuyenvien1.xa1")
    assert_problem(r, 404, "Task not found")
    assert snapshot(api.runtime) == before


def _colleague(api: Api, username: str, department: str) -> str:
    rt = api.runtime
    rt.accounts.add(username, DEMO_PASSWORD, "Đỗ Văn Cường", Role.SPECIALIST, COMMUNE, department, rt.clock.now())
    return username


def test_claiming_a_task_claimed_by_someone_else_conflicts(api: Api) -> None:
    code = in_progress_dossier(api)
    colleague = _colleague(api, "chuyenvien3.xa1", f"{COMMUNE}-PKT")  # the same department
    task = api.task_for("chuyenvien1.xa1", code)
    assert api.post(f"/api/tasks/{task['id']}/claim", "chuyenvien1.xa1").status_code == 200
    api.token(colleague)
    before = snapshot(api.runtime)
    r = api.post(f"/api/tasks/{task['id']}/claim", colleague)
    assert_problem(r, 409, "already claimed by chuyenvien1.xa1", title_parts=("chuyenvien1.xa1",))
    r = api.post(f"/api/tasks/{task['id']}/complete", colleague, json={"decision": "refuse"})
    assert_problem(r, 409, "claimed by chuyenvien1.xa1")
    assert snapshot(api.runtime) == before
    assert api.task_for("chuyenvien1.xa1", code)["assignee"] == "chuyenvien1.xa1"


def test_unknown_decision_lists_the_allowed_values_and_the_process_still_waits(api: Api) -> None:
    code = in_progress_dossier(api)
    task = api.task_for("chuyenvien1.xa1", code)
    before = snapshot(api.runtime)
    r = api.decide("chuyenvien1.xa1", code, "maybe")
    body = assert_problem(
        r, 422, "Decision 'maybe' is not known", "approve, refuse, supplement", title_parts=("maybe",)
    )
    assert body["allowed"] == ["approve", "refuse", "supplement"]
    assert_problem(api.decide("chuyenvien1.xa1", code, None), 422, "Decision 'None'", "approve, refuse, supplement")
    assert snapshot(api.runtime) == before
    same = api.task_for("chuyenvien1.xa1", code)
    assert (same["id"], same["activity_id"], same["assignee"]) == (task["id"], "review", None)
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert (view["status"], view["decision"]) == ("in_progress", None)
    # and a valid decision still completes it
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200


def test_decision_sent_to_a_step_that_takes_none_is_refused(api: Api) -> None:
    code = in_progress_dossier(api)
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)  # → the reception's return_result task
    task = api.task_for("tiepnhan.xa1", code)
    assert task["activity_id"] == "return_result"
    assert task["decisions"] == {}
    before = snapshot(api.runtime)
    body = assert_problem(
        api.decide("tiepnhan.xa1", code, "approve"), 422, "takes no decision", title_parts=("quyết định",)
    )
    assert body["activity"] == "return_result"
    assert snapshot(api.runtime) == before
    assert api.task_for("tiepnhan.xa1", code)["id"] == task["id"]
    assert api.decide("tiepnhan.xa1", code, None).status_code == 200


# ---------------------------------------------------------------- authentication


def test_missing_token_is_unauthorized(api: Api) -> None:
    before = snapshot(api.runtime)
    for r in (
        api.client.get("/api/me"),
        api.client.get("/api/tasks"),
        api.client.post("/api/dossiers", files=good_files(), data={"procedure_code": HOUSEHOLD_BUSINESS}),
    ):
        assert_problem(r, 401, "bearer token is required", title_parts=("đăng nhập",))
        assert r.headers["www-authenticate"] == "Bearer"
    assert snapshot(api.runtime) == before


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-real-token", "Bearer " + "A" * 43, "Basic dGllcG5oYW4ueGExOm1vdGN1YS1kZW1v", "Bearer", "token"],
)
def test_malformed_or_unknown_token_is_unauthorized(api: Api, authorization: str) -> None:
    before = snapshot(api.runtime)
    r = api.client.get("/api/me", headers={"Authorization": authorization})
    body = assert_problem(r, 401)
    assert "token" in body["detail"].lower()
    assert r.headers["www-authenticate"] == "Bearer"
    assert snapshot(api.runtime) == before


def test_expired_token_is_unauthorized_and_says_so(api: Api) -> None:
    token = api.token("tiepnhan.xa1")
    headers = {"Authorization": f"Bearer {token}"}
    clock = api.runtime.clock
    assert isinstance(clock, SimulatedClock)
    ttl = dt.timedelta(hours=api.runtime.settings.token_ttl_hours)
    clock.advance(ttl - dt.timedelta(minutes=1))
    assert api.client.get("/api/me", headers=headers).status_code == 200
    clock.advance(dt.timedelta(minutes=2))
    before = snapshot(api.runtime)
    r = api.client.get("/api/me", headers=headers)
    assert_problem(r, 401, "expired", title_parts=("hết hạn",))
    assert r.headers["www-authenticate"] == "Bearer"
    assert snapshot(api.runtime) == before


def test_wrong_password_is_unauthorized(api: Api) -> None:
    before = snapshot(api.runtime)
    r = api.client.post("/api/auth/token", json={"username": "tiepnhan.xa1", "password": "not-the-password"})
    assert_problem(r, 401, "Wrong username or password")
    # its only trace is the audit entry of a failed login (issue 14): who and from where, never the password
    assert snapshot(api.runtime) == before | {"audit": (1, 1)}
    [entry] = api.runtime.audit.all()
    assert (entry.event.kind, entry.event.actor) == ("user.login_failed", "tiepnhan.xa1")
    assert dict(entry.event.details) == {"address": "testclient", "channel": "api"}


# ---------------------------------------------------------------- dossiers


def test_citizen_cannot_read_someone_elses_dossier(api: Api) -> None:
    add_person(api.runtime, "congdan2", Role.CITIZEN, None, None)
    r = api.submit(as_user="congdan1", agency_code=COMMUNE)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    doc_id = r.json()["documents"][0]["id"]
    assert api.get(f"/api/dossiers/{code}", "congdan1").status_code == 200
    counter_code = api.submit().json()["code"]  # registered at the counter: not congdan1's either
    api.token("congdan2")
    before = snapshot(api.runtime)
    for path, as_user in (
        (f"/api/dossiers/{code}", "congdan2"),
        (f"/api/dossiers/{code}/history", "congdan2"),
        (f"/api/dossiers/{code}/documents/{doc_id}", "congdan2"),
        (f"/api/dossiers/{counter_code}", "congdan1"),
    ):
        assert_problem(api.get(path, as_user), 403, "may not see this dossier", title_parts=("quyền",))
    assert snapshot(api.runtime) == before  # not even a dossier.read audit entry


def test_official_of_another_commune_cannot_read_the_dossier(api: Api) -> None:
    code = api.submit().json()["code"]
    add_person(api.runtime, "tiepnhan.xa2", Role.RECEPTION, OTHER_COMMUNE, f"{OTHER_COMMUNE}-TTPVHCC")
    api.token("tiepnhan.xa2")
    before = snapshot(api.runtime)
    assert_problem(api.get(f"/api/dossiers/{code}", "tiepnhan.xa2"), 403, "belongs to another agency")
    assert snapshot(api.runtime) == before


def test_unknown_dossier_code_is_not_found(api: Api) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    missing = f"{COMMUNE}-260302-9999"
    for r in (
        api.get(f"/api/dossiers/{missing}", "tiepnhan.xa1"),
        api.get(f"/api/dossiers/{missing}/history", "tiepnhan.xa1"),
        api.post(f"/api/dossiers/{missing}/supplement", "tiepnhan.xa1", files=pdf_files(giay_to_phap_ly=minimal_pdf())),
    ):
        body = assert_problem(r, 404, f"Dossier {missing} not found", title_parts=("Không tìm thấy",))
        assert body["dossier_code"] == missing
    assert snapshot(api.runtime) == before


def test_supplement_when_not_waiting_for_one_conflicts(api: Api) -> None:
    code = in_progress_dossier(api)
    before = snapshot(api.runtime)
    files = pdf_files(giay_to_phap_ly=minimal_pdf("bo sung"))
    r = api.post(f"/api/dossiers/{code}/supplement", "tiepnhan.xa1", files=files)
    assert_problem(r, 409, f"Dossier {code} is not waiting for a supplement", "in_progress", title_parts=("bổ sung",))
    assert snapshot(api.runtime) == before


def test_bad_supplement_file_is_refused_and_the_dossier_keeps_waiting(api: Api) -> None:
    code = in_progress_dossier(api)
    assert api.decide("chuyenvien1.xa1", code, "supplement", "Thiếu CCCD").status_code == 200
    api.work()
    before = snapshot(api.runtime)
    bad = {"paper.giay_to_phap_ly": ("cccd.pdf", b"%PDF-garbage", "application/pdf")}
    assert_problem(api.post(f"/api/dossiers/{code}/supplement", "tiepnhan.xa1", files=bad), 422, "corrupt")
    unknown = pdf_files(giay_khai_sinh=minimal_pdf())
    assert_problem(api.post(f"/api/dossiers/{code}/supplement", "tiepnhan.xa1", files=unknown), 422, "giay_khai_sinh")
    assert snapshot(api.runtime) == before
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "supplement_requested"


# ---------------------------------------------------------------- dossier codes


def test_same_files_again_make_a_second_dossier_without_collision(api: Api) -> None:
    first = api.submit()
    assert first.status_code == 201, first.text
    objects_after_first = object_files(api.runtime)
    second = api.submit()
    assert second.status_code == 201, second.text
    assert first.json()["code"] == f"{COMMUNE}-260302-0001"
    assert second.json()["code"] == f"{COMMUNE}-260302-0002"
    # each dossier's upload waits under a key of its own (identical bytes do not share one: filing removes the
    # staging object) and, once filed, lives under its dossier: no staging object is left behind
    assert not objects_after_first & object_files(api.runtime) - {k for k in objects_after_first if "/incoming/" in k}
    api.work()
    kept = object_files(api.runtime)
    assert not [key for key in kept if "/incoming/" in key]
    for view in (first.json(), second.json()):
        assert len([key for key in kept if f"/dossiers/{view['code']}/upload/" in key]) == 2
    for view in (first.json(), second.json()):
        assert len(view["documents"]) == 2
        for doc in view["documents"]:
            r = api.get(f"/api/dossiers/{view['code']}/documents/{doc['id']}", "tiepnhan.xa1")
            assert r.status_code == 200
            assert hashlib.sha256(r.content).hexdigest() == doc["sha256"]
    with transaction(api.runtime.db) as conn:
        uploads = select(func.count()).select_from(document).where(document.c.kind == "upload")
        assert conn.execute(uploads).scalar_one() == 4


def test_failed_intake_does_not_consume_a_serial(api: Api) -> None:
    assert api.submit().json()["code"] == f"{COMMUNE}-260302-0001"
    assert api.submit(files=pdf_files(giay_de_nghi=minimal_pdf())).status_code == 422
    r = api.submit()
    assert r.status_code == 201, r.text
    assert r.json()["code"] == f"{COMMUNE}-260302-0002"


def test_intake_rolled_back_after_the_serial_was_taken_gives_it_back(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure *inside* the intake transaction (after the counter row was incremented) rolls the
    counter, the dossier row, the document rows and the audit entries back together."""
    desk = api.runtime.intake
    reception = api.runtime.accounts.get("tiepnhan.xa1")
    assert reception is not None
    applicant = Applicant("Nguyễn Văn An", "001090012345")

    def uploads() -> list[Upload]:
        return [
            Upload("giay_de_nghi", "a.pdf", "application/pdf", io.BytesIO(minimal_pdf("de nghi"))),
            Upload("giay_to_phap_ly", "b.pdf", "application/pdf", io.BytesIO(minimal_pdf("cccd"))),
        ]

    assert desk.intake(reception, HOUSEHOLD_BUSINESS, applicant, uploads(), details=HOUSEHOLD_DETAILS)["code"].endswith(
        "-0001"
    )
    before = snapshot(api.runtime)

    def engine_down(*args: object, **kwargs: object) -> str:
        raise RuntimeError("engine unavailable")

    monkeypatch.setattr(api.runtime.engine, "start", engine_down)
    with pytest.raises(RuntimeError, match="engine unavailable"):
        desk.intake(reception, HOUSEHOLD_BUSINESS, applicant, uploads(), details=HOUSEHOLD_DETAILS)
    assert snapshot(api.runtime) == before  # the staged papers are removed with the rollback: no new object
    monkeypatch.undo()
    assert (
        desk.intake(reception, HOUSEHOLD_BUSINESS, applicant, uploads(), details=HOUSEHOLD_DETAILS)["code"]
        == f"{COMMUNE}-260302-0002"
    )


def test_padded_pdf_helper_makes_a_valid_pdf_of_the_asked_size() -> None:
    data = padded_pdf(3 * MB)
    assert 3 * MB <= len(data) < 3 * MB + 4096
    from services.uploads import check_upload

    check_upload(Upload("x", "x.pdf", "application/pdf", io.BytesIO(data)))  # does not raise
