"""JSON from outside, read within bounds: a size limit and a nesting limit checked *before* parsing.

Python's ``json`` parser recurses once per nested array or object, so ``[[[[…`` 100,000 deep raises
``RecursionError`` (or worse, exhausts the C stack) before any of our checks run. :func:`nesting_depth` scans
the text once, iteratively, and :func:`loads_bounded` refuses too-deep or too-large input with an
:class:`~dossiers.errors.InvalidInput` naming the limit, so every caller answers with a clear 422 (or, for a
partner's envelope, a signed refusal) and nothing is half-done.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dossiers.errors import InvalidInput

MAX_JSON_DEPTH = 32
"""Deeper than any document Motcua exchanges (a dossier record inside a manifest is 4 levels)."""
MAX_JSON_BYTES = 1024 * 1024
"""Default size bound for a JSON request body or field (uploads and envelopes have their own limits)."""
_STRUCTURAL = re.compile(rb'\\.|["\[\]{}]', re.DOTALL)


def nesting_depth(text: str | bytes, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in ``text`` (brackets inside strings do not count).

    Scans without recursion; stops early once the depth exceeds ``stop_above``. Malformed text is not judged
    here: the parser refuses it afterwards."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    depth = deepest = 0
    in_string = False
    # only the structural bytes matter, so the scan visits those alone (base64 payloads are skipped in C)
    for match in _STRUCTURAL.finditer(data):
        token = match.group()
        if in_string:
            if token == b'"':
                in_string = False
            # an escape pair (backslash + any byte) is consumed whole by the pattern
        elif token == b'"':
            in_string = True
        elif token in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        elif token in (b"]", b"}") and depth:
            depth -= 1
    return deepest


def check_bounds(
    text: str | bytes, *, what: str, max_depth: int = MAX_JSON_DEPTH, max_bytes: int = MAX_JSON_BYTES
) -> None:
    """Raise :class:`InvalidInput` when ``text`` is larger than ``max_bytes`` or nested deeper than ``max_depth``."""
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else len(text)
    if size > max_bytes:
        raise InvalidInput(
            f"Dữ liệu JSON của {what} quá lớn (tối đa {max_bytes} byte).",
            f"The JSON of {what} is {size} bytes, more than the limit of {max_bytes}.",
            field=what,
            limit=max_bytes,
        )
    if nesting_depth(text, stop_above=max_depth) > max_depth:
        raise InvalidInput(
            f"Dữ liệu JSON của {what} lồng nhau quá sâu (tối đa {max_depth} cấp).",
            f"The JSON of {what} is nested deeper than {max_depth} levels.",
            field=what,
            limit=max_depth,
        )


def loads_bounded(
    text: str | bytes, *, what: str, max_depth: int = MAX_JSON_DEPTH, max_bytes: int = MAX_JSON_BYTES
) -> Any:
    """``json.loads`` after :func:`check_bounds`; malformed JSON is an :class:`InvalidInput` too."""
    check_bounds(text, what=what, max_depth=max_depth, max_bytes=max_bytes)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError cannot happen within the depth bound; belt and braces
        raise InvalidInput(
            f"Dữ liệu JSON của {what} không hợp lệ.",
            f"The JSON of {what} is malformed: {exc}",
            field=what,
        ) from None
