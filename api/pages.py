"""Server-rendered pages (Jinja2). The public catalogue (*niêm yết công khai thủ tục hành chính*): every
procedure in force with its papers, fees, time limit and legal source, readable without logging in.

Pages embed the project's Unicode font (Noto Serif, served from ``/static/fonts``) so Vietnamese diacritics
render the same on every machine.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from api.web.render import fee_text, page, time_limit_text
from dossiers.catalogue import PAPER_FORM_NAMES
from dossiers.errors import NotFound

TEMPLATES = Path(__file__).resolve().parent / "templates"
FONTS = Path(__file__).resolve().parents[1] / "documents" / "fonts"
LEVEL_NAMES = {"province": "Cấp tỉnh", "district": "Cấp huyện", "commune": "Cấp xã"}
ONLINE_NAMES = {"full": "Toàn trình", "partial": "Một phần"}
CHANNEL_NAMES = {"counter": "Trực tiếp", "online": "Trực tuyến", "postal": "Bưu chính công ích"}


def pages_router(runtime: Any) -> APIRouter:
    shop = runtime.shop
    router = APIRouter(include_in_schema=False)
    helpers = {
        "time_limit_text": time_limit_text,
        "fee_text": fee_text,
        "levels": LEVEL_NAMES,
        "online": ONLINE_NAMES,
        "channels": CHANNEL_NAMES,
        "forms": PAPER_FORM_NAMES,
    }

    def today() -> dt.date:
        return runtime.clock.now().date()

    @router.get("/thu-tuc", response_class=HTMLResponse)
    def catalogue_page(request: Request, linh_vuc: str | None = None) -> HTMLResponse:
        procedures = shop.procedures(today())
        fields = sorted({p.field for p in procedures})
        if linh_vuc:
            procedures = [p for p in procedures if p.field == linh_vuc]
        return page(
            request,
            runtime,
            "catalogue.html",
            procedures=procedures,
            fields=fields,
            field=linh_vuc,
            day=today(),
            **helpers,
        )

    @router.get("/thu-tuc/{code}", response_class=HTMLResponse)
    def procedure_page(request: Request, code: str) -> HTMLResponse:
        procedure = shop.procedure(code, today())
        return page(request, runtime, "procedure.html", p=procedure, day=today(), **helpers)

    @router.get("/static/fonts/{name}")
    def font(name: str) -> FileResponse:
        path = FONTS / name
        if path.suffix != ".ttf" or path.parent != FONTS or not path.is_file():
            raise NotFound("Không có phông chữ này.", "No such font.")
        return FileResponse(path, media_type="font/ttf", headers={"Cache-Control": "public, max-age=86400"})

    @router.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        """Browsers ask for /favicon.ico whatever the page says: the icon is the SVG every page links."""
        return RedirectResponse("/static/favicon.svg", status_code=301)

    return router
