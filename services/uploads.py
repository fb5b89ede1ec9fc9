"""Checks on uploaded files before anything is stored: declared type, real type, and content that opens.

Every way a file enters (intake and supplement through the API and the pages, a scan to digitise, the verify
upload) builds an :class:`Upload` and calls :func:`check_upload`:

- the name is reduced to a safe base name (:func:`dossiers.filenames.safe_filename`) when the ``Upload`` is made;
- a PDF must parse (pyHanko's strict reader), not be encrypted, have a sane page tree (no loop, no page twice,
  not absurdly deep, ``/Count`` telling the truth) and carry no active content (:func:`active_content`);
- an image is decoded whole with Pillow, within :data:`MAX_IMAGE_PIXELS`: a PNG or JPEG header followed by
  garbage, a truncated image or a decompression bomb is refused.

PDFs with active content are **refused, not neutralised**: a citizen's paper is kept as it arrived (it may be
sealed as a copy or be evidence), and quietly rewriting it would change what was filed. The citizen is asked to
export the paper again as a plain PDF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, BinaryIO

from dossiers.errors import InvalidInput
from dossiers.filenames import safe_filename

ALLOWED_TYPES = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}

MAX_IMAGE_PIXELS = 50_000_000
"""An A4 page scanned in colour at 600 dpi is 35 million pixels; decoding 50 million takes ~150 MB."""
MAX_PDF_ITEMS = 2_000_000
"""Entries of dictionaries and arrays walked looking for active content (a 300-page scan has ~10,000)."""
MAX_PAGES = 10_000
"""Pages of one uploaded PDF."""
MAX_PAGE_TREE_DEPTH = 32
"""Levels of the page tree: writers balance it (a million pages fit in 7 levels of 10 kids)."""

# What makes a PDF act instead of being read (ISO 32000-2 §12.6 actions, §12.5.6 annotations, §7.11.4 files).
RUNNING_ACTIONS = {
    "/JavaScript": "JavaScript",
    "/Launch": "Launch action",
    "/SubmitForm": "SubmitForm action",
    "/ImportData": "ImportData action",
    "/GoToR": "GoToR action (remote document)",
    "/GoToE": "GoToE action (embedded document)",
    "/RichMediaExecute": "RichMediaExecute action",
}
ACTIVE_KEYS = {
    "/JS": "JavaScript",
    "/JavaScript": "JavaScript",  # the document-level name tree of scripts
    "/EmbeddedFiles": "EmbeddedFile",
    "/EF": "EmbeddedFile",
    "/XFA": "XFA form",
    "/RichMediaContent": "RichMedia",
}
ACTIVE_ANNOTATIONS = {
    "/FileAttachment": "FileAttachment annotation",
    "/RichMedia": "RichMedia annotation",
    "/Screen": "Screen annotation (media)",
    "/Movie": "Movie annotation",
    "/Sound": "Sound annotation",
    "/3D": "3D annotation",
}
SAFE_URI_SCHEMES = ("http", "https", "mailto")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True)
class Upload:
    """One file of a dossier: which required paper it is, its name and a seekable stream.

    ``filename`` is the client's name reduced to a safe base name (:func:`~dossiers.filenames.safe_filename`)
    on construction, so every way in names the file the same safe way (refusals included); ``stored_filename``
    is the name kept with the document once :func:`check_upload` passed: the same, ending with an extension of
    its (verified) type."""

    paper_key: str
    filename: str
    content_type: str
    stream: BinaryIO

    def __post_init__(self) -> None:
        object.__setattr__(self, "filename", safe_filename(self.filename))

    @property
    def stored_filename(self) -> str:
        return safe_filename(self.filename, self.content_type)


def _detected_type(head: bytes) -> str | None:
    for content_type, magic in ALLOWED_TYPES.items():
        if head.startswith(magic):
            return content_type
    return None


def check_upload(upload: Upload, *, allow_active_content: bool = False) -> list[str]:
    """Raise ``InvalidInput`` naming the file when its type is not allowed, does not match its content, or the
    content does not open (see the module). Returns the PDF's active content (:func:`active_content`): always
    empty unless ``allow_active_content`` (the verify upload, which stores nothing and only reports it)."""
    name = upload.filename
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared not in ALLOWED_TYPES:
        raise InvalidInput(
            f"Tệp '{name}' có định dạng {declared or 'không rõ'} không được chấp nhận (chỉ PDF, JPEG, PNG).",
            f"File '{name}' has type {declared or 'unknown'}, which is not accepted (PDF, JPEG, PNG only).",
            filename=name,
        )
    upload.stream.seek(0)
    head = upload.stream.read(16)
    upload.stream.seek(0)
    if not head:
        raise InvalidInput(f"Tệp '{name}' rỗng.", f"File '{name}' is empty.", filename=name)
    actual = _detected_type(head)
    if actual != declared:
        raise InvalidInput(
            f"Nội dung tệp '{name}' không phải {declared}.",
            f"The content of '{name}' is not {declared} (looks like {actual or 'something else'}).",
            filename=name,
        )
    found: list[str] = []
    if declared == "application/pdf":
        found = _check_pdf(upload, allow_active_content)
    else:
        _check_image(upload, declared)
    upload.stream.seek(0)
    return found


def _check_pdf(upload: Upload, allow_active_content: bool) -> list[str]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    name = upload.filename
    try:
        reader = PdfFileReader(upload.stream, strict=True)
        if reader.encrypted:
            raise InvalidInput(
                f"Tệp PDF '{name}' được mã hóa, không thể xử lý.",
                f"PDF '{name}' is encrypted and cannot be processed.",
                filename=name,
            )
        pages = int(reader.root["/Pages"]["/Count"])
        if pages < 1:
            raise ValueError("no pages")
        check_page_tree(reader.root, name)
        found = active_content(reader.root, name)
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure means a broken or hostile file
        raise InvalidInput(
            f"Tệp PDF '{name}' bị hỏng hoặc không đọc được.",
            f"PDF '{name}' is corrupt or unreadable: {type(exc).__name__}: {str(exc)[:200]}",
            filename=name,
        ) from None
    finally:
        upload.stream.seek(0)
    if found and not allow_active_content:
        listed = ", ".join(found)
        raise InvalidInput(
            f"Tệp PDF '{name}' chứa nội dung chủ động ({listed}): không nhận tệp PDF có mã lệnh, hành động tự "
            "chạy, gửi dữ liệu đi hay tệp đính kèm. Hãy in hoặc xuất lại giấy tờ thành tệp PDF thông thường.",
            f"PDF '{name}' contains active content ({listed}): PDFs with scripts, actions that launch, submit or "
            "open remote documents, embedded files or rich media are refused. Export the paper again as a plain PDF.",
            filename=name,
            active_content=found,
        )
    return found


def _tree_error(name: str, reason_vi: str, reason_en: str) -> InvalidInput:
    return InvalidInput(
        f"Tệp PDF '{name}' có cây trang không hợp lệ ({reason_vi}).",
        f"PDF '{name}' has an invalid page tree: {reason_en}.",
        filename=name,
    )


def check_page_tree(root: Any, name: str) -> int:
    """Walk the page tree from the catalog's ``/Pages`` without recursion; return the number of pages.

    Refused: a ``/Kids`` entry pointing back to an ancestor (a loop that sends page-walking code — ours, pyHanko's
    signer, a viewer — round forever), a node reached twice, more than :data:`MAX_PAGE_TREE_DEPTH` levels or
    :data:`MAX_PAGES` pages, and a root ``/Count`` that is not the number of pages found."""
    from pyhanko.pdf_utils.generic import ArrayObject, DictionaryObject

    on_path: set[object] = set()
    seen: set[object] = set()
    pages = 0
    stack: list[tuple[bool, Any, int]] = [(True, root.raw_get("/Pages"), 0)]
    while stack:
        entering, item, depth = stack.pop()
        key = _identity(item)
        if not entering:
            on_path.discard(key)
            continue
        if key in on_path:
            raise _tree_error(
                name, "một nút trỏ ngược về nút cha, tạo vòng lặp", "a /Kids entry loops back to an ancestor"
            )
        if key in seen:
            raise _tree_error(name, "một trang xuất hiện nhiều lần", "a node is listed more than once")
        seen.add(key)
        node = _resolve(item)
        if not isinstance(node, DictionaryObject):
            raise _tree_error(name, "nút không phải từ điển", "a node is not a dictionary")
        if "/Kids" not in node:
            pages += 1
            if pages > MAX_PAGES:
                raise _tree_error(name, f"quá {MAX_PAGES} trang", f"more than {MAX_PAGES} pages")
            continue
        if depth >= MAX_PAGE_TREE_DEPTH:
            raise _tree_error(
                name, f"sâu quá {MAX_PAGE_TREE_DEPTH} cấp", f"deeper than {MAX_PAGE_TREE_DEPTH} levels (too deep)"
            )
        kids = _resolve(node.raw_get("/Kids"))
        if not isinstance(kids, ArrayObject):
            raise _tree_error(name, "/Kids không phải mảng", "/Kids is not an array")
        if len(kids) > MAX_PAGES:
            raise _tree_error(name, f"quá {MAX_PAGES} trang", f"more than {MAX_PAGES} pages")
        on_path.add(key)
        stack.append((False, item, depth))
        stack.extend((True, kid, depth + 1) for kid in reversed(list(list.__iter__(kids))))
    count = int(_resolve(root["/Pages"].raw_get("/Count")))
    if count != pages:
        raise _tree_error(
            name, f"/Count ghi {count} trang nhưng có {pages} trang", f"/Count says {count} pages but it holds {pages}"
        )
    return pages


def active_content(root: Any, name: str) -> list[str]:
    """What in the PDF acts instead of being read, found by walking the whole object graph from the catalog
    (``/OpenAction``, ``/AA`` of the catalog and pages, annotations' ``/A`` and ``/AA``, ``/Next`` chains, the
    ``/Names`` trees, the form) — not by scanning raw bytes: names may be hex-escaped (``/J#61vaScript``) or sit
    in compressed object streams, and the parser resolves both. Bounded by :data:`MAX_PDF_ITEMS`.

    Found: actions that run or reach out (:data:`RUNNING_ACTIONS`; a ``/URI`` action whose scheme is not
    http, https or mailto), scripts (``/JS``, the ``/JavaScript`` name tree), embedded files, XFA forms and
    media or file-attachment annotations (:data:`ACTIVE_ANNOTATIONS`). A link to a web page and a ``/GoTo``
    to a page of the document are not active content."""
    from pyhanko.pdf_utils.generic import ArrayObject, DictionaryObject, IndirectObject

    found: dict[str, None] = {}
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [root]
    items = 0
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in seen:
                continue
            seen.add(ref)
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            values: list[Any] = list(dict.values(obj))
            for finding in _dictionary_findings(obj):
                found.setdefault(finding, None)
        elif isinstance(obj, ArrayObject):
            values = list(list.__iter__(obj))
        else:
            continue
        items += len(values)
        if items > MAX_PDF_ITEMS:
            raise InvalidInput(
                f"Tệp PDF '{name}' có cấu trúc quá phức tạp để kiểm tra.",
                f"PDF '{name}' has too many objects to check (more than {MAX_PDF_ITEMS} entries).",
                filename=name,
            )
        stack.extend(v for v in values if isinstance(v, IndirectObject | DictionaryObject | ArrayObject))
    return list(found)


def _dictionary_findings(d: Any) -> list[str]:
    findings = [label for key, label in ACTIVE_KEYS.items() if key in d]
    action = _name(d, "/S")
    if action in RUNNING_ACTIONS:
        findings.append(RUNNING_ACTIONS[action])
    elif action == "/URI" and "/URI" in d:
        scheme = _uri_scheme(_resolve(d.raw_get("/URI")))
        if scheme is not None and scheme not in SAFE_URI_SCHEMES:
            findings.append(f"URI action ({scheme}:)")
    subtype = _name(d, "/Subtype")
    if subtype in ACTIVE_ANNOTATIONS:
        findings.append(ACTIVE_ANNOTATIONS[subtype])
    if _name(d, "/Type") == "/EmbeddedFile":
        findings.append("EmbeddedFile")
    return findings


def _name(d: Any, key: str) -> str | None:
    """The name under ``key`` (``None`` when absent or not a name)."""
    value = _resolve(d.raw_get(key)) if key in d else None
    return str(value) if isinstance(value, str) else None


def _uri_scheme(value: Any) -> str | None:
    """The lower-case scheme of a URI string (bytes read as Latin-1), ``None`` for a relative one. Control
    characters and spaces are dropped first, as viewers do (``java\\tscript:`` is ``javascript:``)."""
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    text = "".join(c for c in text if c > " " and c != "\x7f")
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else None


def _identity(item: Any) -> object:
    from pyhanko.pdf_utils.generic import IndirectObject

    return (item.idnum, item.generation) if isinstance(item, IndirectObject) else id(item)


def _resolve(item: Any) -> Any:
    get_object = getattr(item, "get_object", None)
    return get_object() if callable(get_object) else item


def _check_image(upload: Upload, declared: str) -> None:
    """Decode the whole image (Pillow): the header must announce at most :data:`MAX_IMAGE_PIXELS` pixels and
    every byte of pixel data must decode (PNG chunk checksums included)."""
    from PIL import Image

    name = upload.filename
    image_format = {"image/jpeg": "JPEG", "image/png": "PNG"}[declared]
    too_many = InvalidInput(
        f"Ảnh '{name}' quá lớn (quá {MAX_IMAGE_PIXELS // 1_000_000} triệu điểm ảnh).",
        f"Image '{name}' has too many pixels (more than {MAX_IMAGE_PIXELS:,}).",
        filename=name,
    )
    try:
        upload.stream.seek(0)
        with Image.open(upload.stream, formats=[image_format]) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise too_many
            image.verify()
        upload.stream.seek(0)
        with Image.open(upload.stream, formats=[image_format]) as image:
            image.load()
    except InvalidInput:
        raise
    except Image.DecompressionBombError:
        raise too_many from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure means a broken or disguised file
        raise InvalidInput(
            f"Tệp ảnh '{name}' bị hỏng hoặc không đọc được.",
            f"Image '{name}' is corrupt or unreadable: {type(exc).__name__}: {str(exc)[:200]}",
            filename=name,
        ) from None
    finally:
        upload.stream.seek(0)
