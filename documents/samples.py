"""Stand-ins for the papers a citizen hands in (scans), used by `motcua demo`."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4

from documents.layout import BOLD, REGULAR, register_fonts
from documents.pdfa import ArchivalCanvas


def sample_pdf(title: str, body: str = "Bản điện tử do chương trình mô phỏng tạo ra.") -> bytes:
    """A one-page A4 PDF with a title and a line of text, in the embedded Noto Serif."""
    register_fonts()
    out = io.BytesIO()
    canvas = ArchivalCanvas(out, pagesize=A4, invariant=True)
    canvas.setFont(BOLD, 14)
    canvas.drawString(72, 770, title)
    canvas.setFont(REGULAR, 11)
    canvas.drawString(72, 745, body)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
