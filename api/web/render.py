"""Rendering pages: one Jinja2 environment (autoescaped), the language, the signed-in person and the CSRF token.

Vietnamese is the default; English is chosen with ``?lang=en`` (remembered in a cookie). Templates carry
both texts side by side — ``{{ t("Danh sách nhiệm vụ", "Task list") }}`` — so a page never shows a key
instead of a sentence and no catalogue file has to be kept in step.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.web import labels
from api.web.labels import local_time
from api.web.session import csrf_token, session_person
from dossiers import text_rules
from dossiers.model import Procedure

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
LANG_COOKIE = "motcua_lang"
LANGUAGES = ("vi", "en")

environment = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True
)
# the inputs' maxlength: the same limits the service enforces (dossiers.text_rules)
environment.globals["limits"] = {
    "name": text_rules.NAME_MAX,
    "email": text_rules.EMAIL_MAX,
    "form_text": text_rules.FORM_TEXT_MAX,
    "comment": text_rules.COMMENT_MAX,
    "reason": text_rules.REASON_MAX,
    "list_items": text_rules.LIST_ITEMS_MAX,
}


def language(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "vi"
    return asked if asked in LANGUAGES else "vi"


def parse_day(text: str | None) -> dt.date | None:
    """A day as people type it — ``dd/mm/yyyy`` (also with ``-`` or ``.``, or the eight digits alone) — or
    ``yyyy-mm-dd`` (old links, and browsers that still send an ISO date); None when it is not a day."""
    raw = (text or "").strip()
    if len(raw) > 10:
        return None
    if ISO_DAY.match(raw):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            return None
    digits = DAY_FIRST.match(raw) or DAY_DIGITS.match(raw)
    if digits is None:
        return None
    try:
        return dt.date(int(digits[3]), int(digits[2]), int(digits[1]))
    except ValueError:
        return None


ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
DAY_DIGITS = re.compile(r"^(\d{2})(\d{2})(\d{4})$")
# what a date input accepts in the browser (the server's parse_day decides): dd/mm/yyyy, ddmmyyyy or yyyy-mm-dd
# (no character classes: Chromium compiles the attribute with the ``v`` flag, where ``/`` and ``-`` in a class
# must be escaped)
DAY_PATTERN = r"\d{1,2}(\/|\.|-)\d{1,2}(\/|\.|-)\d{4}|\d{8}|\d{4}-\d{2}-\d{2}"
DAY_PLACEHOLDER = "dd/mm/yyyy"

environment.filters["local_time"] = local_time
environment.filters["day"] = labels.day_text
environment.filters["subject_name"] = labels.subject_name
environment.globals["day_input"] = {"pattern": DAY_PATTERN, "placeholder": DAY_PLACEHOLDER}
environment.filters["vnd"] = lambda amount: f"{int(amount or 0):,}".replace(",", ".") + " đ"


def page(request: Request, runtime: Any, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)

    def t(vi: str, en: str | None = None) -> str:
        return en if lang == "en" and en else vi

    person = context.pop("person", None) or session_person(request, runtime)
    html = environment.get_template(template).render(
        request=request,
        lang=lang,
        t=t,
        person=person,
        role_name=(lambda role: t(*labels.role(role))),
        labels=labels.Labels(runtime, lang),
        csrf=csrf_token(request, runtime) if person else "",
        now=runtime.clock.now(),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers={"Content-Language": lang})
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    # pages are never cached (they show personal data) and never framed
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    return response


def time_limit_text(p: Procedure) -> str:
    if p.time_limit_days == 0:
        return "Trong ngày (nhận sau 15 giờ thì trả trong ngày làm việc tiếp theo)"
    unit = "ngày làm việc" if p.working_days else "ngày"
    return f"{p.time_limit_days:02d} {unit} kể từ ngày nhận đủ hồ sơ hợp lệ"


def fee_text(amount: int, set_by: object = "national") -> str:
    """A fee the provincial People's Council sets ships as 0 in the catalogue: it is not "no fee"."""
    if set_by == "province":
        return "Theo mức do Hội đồng nhân dân cấp tỉnh quyết định"
    return "Không thu" if amount == 0 else f"{amount:,}".replace(",", ".") + " đồng"
