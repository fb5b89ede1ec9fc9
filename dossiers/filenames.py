"""The name a client gave an uploaded file, reduced to a safe base name for display and storage.

A name is the client's claim, shown to officials and citizens and sent back in ``Content-Disposition``: it must
not carry a path (``../../etc/passwd``, ``C:\\x\\y.pdf``), invisible or control characters (a right-to-left
override makes ``invoice\\u202efdp.exe`` read as ``invoiceexe.pdf``), characters Windows refuses in a name, or
thousands of characters. The name is reduced, not refused: the paper itself is what counts, so a citizen is not
sent away over how their phone named a scan.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 120
"""Characters of a stored name: a line in the dossier's document list; the column holds 255."""
DEFAULT_STEM = "tep-tai-len"
"""The name ("uploaded file") of a file whose given name has nothing left once reduced."""
EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/png": (".png",),
}
"""Extensions a name may end with for each accepted type; the first one is added when the name ends otherwise."""

_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # controls, format (bidi, zero-width), surrogates
_SEPARATORS = re.compile(r"[/\\]")
_RESERVED = re.compile(r'[<>:"|?*\u2044\u2215\u29f8\uff0f\uff3c]')  # Windows' reserved ones and slash look-alikes
_SPACES = re.compile(r"\s+")
_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
)
_MAX_EXTENSION = 10


def safe_filename(name: str | None, content_type: str | None = None) -> str:
    """``name`` as shown and stored: NFC, without control, format (bidi, zero-width) or line-separator
    characters, its last path component only, Windows-reserved characters replaced by ``_``, no leading or
    trailing dots or spaces, not a Windows device name, at most :data:`MAX_LENGTH` characters with the extension
    kept. For an accepted ``content_type`` the name ends with one of its :data:`EXTENSIONS` (one is added
    otherwise, so ``x.exe`` holding a PDF is shown as ``x.exe.pdf``); nothing left gives ``tep-tai-len.<ext>``."""
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(c for c in text if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    text = _SEPARATORS.split(text)[-1]
    text = _RESERVED.sub("_", text)
    text = _SPACES.sub(" ", text).strip(" .")
    if text.split(".", 1)[0].strip().upper() in _DEVICES:
        text = "_" + text
    allowed = EXTENSIONS.get((content_type or "").split(";")[0].strip().lower(), ())
    if not text:
        return DEFAULT_STEM + (allowed[0] if allowed else "")
    stem, extension = _split(text)
    if allowed and extension.lower() not in allowed:
        stem, extension = text, allowed[0]
    if len(stem) + len(extension) > MAX_LENGTH:
        stem = stem[: MAX_LENGTH - len(extension)].rstrip(" .") or DEFAULT_STEM
    return stem + extension


def _split(text: str) -> tuple[str, str]:
    """``("báo cáo", ".pdf")`` for ``"báo cáo.pdf"``; no extension when the suffix is long or has spaces."""
    stem, dot, extension = text.rpartition(".")
    if not dot or not stem or len(extension) > _MAX_EXTENSION or " " in extension:
        return text, ""
    return stem, "." + extension
