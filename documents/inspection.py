"""What a PDF is, read with pyHanko's parser: encrypted or not, its page tree, its active content, its first page.

The upload checks (:func:`services.uploads.check_upload`) and the digitising of scans decide what to refuse;
this module reads the file for them, so that the use cases do not parse PDF objects themselves. Every walk is
iterative and bounded (:data:`MAX_PAGES`, :data:`MAX_PAGE_TREE_DEPTH`, :data:`MAX_PDF_ITEMS`): a hostile file
is refused, it never makes the reader hang or recurse without end.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any, BinaryIO

from dossiers.errors import InvalidInput

MAX_PDF_ITEMS = 2_000_000
"""Entries of dictionaries and arrays walked looking for active content (a 300-page scan has ~10,000)."""
MAX_PAGES = 10_000
"""Pages of one uploaded PDF."""
MAX_PAGE_TREE_DEPTH = 32
"""Levels of the page tree: writers balance it (a million pages fit in 7 levels of 10 kids)."""
A4 = (595.0, 842.0)

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
class PdfFacts:
    """What :func:`inspect_pdf` found: an encrypted file is not read further (``pages`` 0, no findings)."""

    encrypted: bool
    pages: int
    active_content: list[str]


def inspect_pdf(stream: BinaryIO, name: str) -> PdfFacts:
    """Parse the PDF in ``stream`` (pyHanko's strict reader), check its page tree (:func:`check_page_tree`) and
    list its active content (:func:`active_content`). ``InvalidInput`` naming ``name`` for a bad page tree or a
    graph too large to check; any other exception means the file does not parse (the caller says so)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(stream, strict=True)
    if reader.encrypted:
        return PdfFacts(encrypted=True, pages=0, active_content=[])
    pages = int(reader.root["/Pages"]["/Count"])
    if pages < 1:
        raise ValueError("no pages")
    check_page_tree(reader.root, name)
    return PdfFacts(encrypted=False, pages=pages, active_content=active_content(reader.root, name))


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


def first_page_size(pdf: bytes) -> tuple[float, float]:
    """Width and height (points) of the first page's MediaBox (inherited from its parents when absent; A4 when
    no node has one).

    Meant for a file :func:`inspect_pdf` passed (no loop, bounded depth); the walk is bounded anyway and a tree
    that does not reach a page is an ``InvalidInput``, never a hang."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    node: Any = reader.root["/Pages"]
    box = node.get("/MediaBox")
    for _ in range(MAX_PAGE_TREE_DEPTH + 1):
        if "/Kids" not in node:
            break
        node = node["/Kids"][0]
        box = node.get("/MediaBox", box)
    if "/Kids" in node:
        raise InvalidInput(
            "Cây trang của bản quét quá sâu hoặc có vòng lặp.", "The scan's page tree is too deep or loops."
        )
    if box is None:
        return A4
    x1, y1, x2, y2 = (float(v) for v in box)
    return abs(x2 - x1), abs(y2 - y1)
