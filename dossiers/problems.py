"""The problems the catalogue checks find, written "<Vietnamese> / <English>".

An administrator of a commune or a province reads the Vietnamese part on the pages (the designer, the catalogue
check); the command line and the logs keep both. The location (file, JSON path or pointer, line) comes first and
belongs to the Vietnamese part, so a page that shows only that part still says where the problem is. Neither part
contains " / ", so the last one separates them.
"""

from __future__ import annotations

import json
from typing import Any

SEPARATOR = " / "


def bilingual(vi: str, en: str) -> str:
    """One problem: the Vietnamese words, then the English ones."""
    return f"{vi}{SEPARATOR}{en}"


def vietnamese(problem: str) -> str:
    """What a Vietnamese page shows of a problem: the part before the last " / " (all of it if there is none)."""
    return problem.rsplit(SEPARATOR, 1)[0] if SEPARATOR in problem else problem


def english(problem: str) -> str:
    """The English part of a problem (all of it if it has no Vietnamese part)."""
    return problem.rsplit(SEPARATOR, 1)[1] if SEPARATOR in problem else problem


def written(value: Any) -> str:
    """A value as the administrator wrote it in the JSON file (shortened), to quote in a Vietnamese message."""
    if value is None:
        return "(chưa ghi)"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"
