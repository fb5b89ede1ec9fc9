"""Dossier codes ``<unit code>-YYMMDD-NNNN`` (Circular 01/2018/TT-VPCP, Art. 19)."""

from __future__ import annotations

import datetime as dt
import re

_CODE = re.compile(r"^(?P<unit>[A-Z0-9.]{1,30})-(?P<day>\d{6})-(?P<serial>\d{4})$")
MAX_SERIAL_PER_DAY = 9999


def format_dossier_code(unit_code: str, received_on: dt.date, serial: int) -> str:
    if not 1 <= serial <= MAX_SERIAL_PER_DAY:
        raise ValueError(f"serial {serial} out of range 1..{MAX_SERIAL_PER_DAY}")
    return f"{unit_code}-{received_on:%y%m%d}-{serial:04d}"


def normalize_dossier_code(text: str) -> str:
    """A code as people type it from a receipt: spaces anywhere and lower case forgiven (codes are upper case)."""
    return "".join(text.split()).upper()


def parse_dossier_code(code: str) -> tuple[str, dt.date, int]:
    m = _CODE.fullmatch(code)
    if m is None:
        raise ValueError(f"not a dossier code: {code!r}")
    day = dt.datetime.strptime(m["day"], "%y%m%d").date()
    return m["unit"], day, int(m["serial"])
