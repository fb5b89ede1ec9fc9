"""Decree 30/2020 signature appearances (issue 4, point 3; DESIGN §7): the styles, the boxes and the time they
show. Signed into their boxes with a development PKI on disk and read back with poppler:
tests/integration/test_appearance.py."""

from __future__ import annotations

import datetime as dt

import pytest
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.stamp import StaticStampStyle, TextStampStyle

from documents.layout import SIGNATURE_BOX
from signing.appearance import (
    MM,
    SAO_Y,
    AppearanceConfig,
    VietnamTimeStampStyle,
    attachment_style,
    copy_style,
    development_seal_png,
    development_signature_png,
    iso_vietnam_time,
    leader_style,
    seal_box,
    seal_style,
)

COMMUNE_NAME = "Ủy ban nhân dân xã Demo 1"
LEADER_NAME = "Phạm Văn Hùng"

LEADER_BOX = SIGNATURE_BOX.box
MAIN_NUMBER = "15/QĐ-UBND"


# ------------------------------------------------------------------------------------------ without poppler


def test_the_time_is_shown_in_vietnam_time_whatever_the_server_zone() -> None:
    style = seal_style(development_seal_png(COMMUNE_NAME), COMMUNE_NAME)
    writer = PdfFileWriter()
    box = layout.BoxConstraints(width=100, height=100)
    # pyHanko formats the signing time in the server's zone with the style's timestamp_format
    utc = dt.datetime(2026, 3, 2, 1, 0, 5, tzinfo=dt.UTC)
    stamp = style.create_stamp(writer, box, {"ts": utc.strftime(style.timestamp_format)})
    assert stamp.text_params["ts"] == "2026-03-02T08:00:05+07:00"
    eastern = dt.datetime(2026, 3, 1, 20, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    stamp = style.create_stamp(writer, box, {"ts": eastern.strftime(style.timestamp_format)})
    assert stamp.text_params["ts"] == "2026-03-02T08:00:05+07:00"
    assert iso_vietnam_time(utc) == "2026-03-02T08:00:05+07:00"
    with pytest.raises(ValueError):
        iso_vietnam_time(dt.datetime(2026, 3, 2))


def test_styles_carry_what_decree_30_shows() -> None:
    leader = leader_style(development_signature_png(LEADER_NAME))
    assert isinstance(leader, StaticStampStyle) and not isinstance(leader, TextStampStyle)
    assert leader.border_width == 0 and leader.background is not None

    seal = seal_style(development_seal_png(COMMUNE_NAME), "UBND 100% xã")
    assert isinstance(seal, VietnamTimeStampStyle) and seal.background is not None
    assert seal.stamp_text.endswith("%(ts)s") and "100%% xã" in seal.stamp_text
    assert seal.text_box_style.font_size == 10

    attachment = attachment_style(MAIN_NUMBER, None)
    assert attachment.background is None and attachment.stamp_text == f"{MAIN_NUMBER}\n%(ts)s"
    copy = copy_style(SAO_Y, COMMUNE_NAME, AppearanceConfig(font_size=11))
    assert copy.stamp_text == f"{SAO_Y}\n{COMMUNE_NAME}\n%(ts)s" and copy.text_box_style.font_size == 11
    for bad in (lambda: seal_style(b"", " "), lambda: attachment_style("", None), lambda: copy_style(SAO_Y, "")):
        with pytest.raises(ValueError):
            bad()


def test_seal_box_covers_the_left_third_of_the_leader_box() -> None:
    x1, y1, x2, y2 = LEADER_BOX
    sx1, sy1, sx2, sy2 = seal_box(LEADER_BOX)
    assert sx2 - sx1 == sy2 - sy1 == y2 - y1, "a round seal, as tall as the box by default"
    assert sx2 == round(x1 + (x2 - x1) / 3)
    assert (sy1 + sy2) / 2 == (y1 + y2) / 2
    assert seal_box(LEADER_BOX, AppearanceConfig(seal_diameter=36 * MM))[2] - seal_box(
        LEADER_BOX, AppearanceConfig(seal_diameter=36 * MM)
    )[0] == round(36 * MM)


def test_a_single_ink_stamp_keeps_its_look_with_a_flat_colour_stream() -> None:
    """A seal or signature drawn in one ink: its colour data becomes that flat ink (the soft mask carries the shape),
    so a seal costs ~1 KB instead of ~54 KB in every sealed document; composited on white it looks the same. An
    image of several colours is left as it is."""
    import io
    import zlib

    from PIL import Image, ImageChops, ImageStat

    from signing.appearance import _EncodedImage, development_seal_png

    png = development_seal_png("Ủy ban nhân dân xã Hòa An")
    encoded = _EncodedImage(png)
    assert len(encoded.colour) < 4_000  # flat: compresses to almost nothing
    original = Image.open(io.BytesIO(png)).convert("RGBA")
    flat = Image.frombytes("RGB", original.size, zlib.decompress(encoded.colour))
    alpha = Image.frombytes("L", original.size, zlib.decompress(encoded.alpha or b""))
    white = Image.new("RGB", original.size, (255, 255, 255))
    before = Image.composite(original.convert("RGB"), white, original.getchannel("A"))
    after = Image.composite(flat, white, alpha)
    difference = ImageChops.difference(before, after)
    worst = max(high for _, high in difference.getextrema())
    assert worst <= 48 and max(ImageStat.Stat(difference).mean) < 1.0, worst  # the ink's shade; the same shape

    shade = Image.linear_gradient("L").resize((64, 64))  # red from dark to bright: not one ink
    gradient = Image.merge("RGBA", (shade, Image.new("L", (64, 64), 40), Image.new("L", (64, 64), 40), shade))
    buffer = io.BytesIO()
    gradient.save(buffer, "PNG")
    kept = _EncodedImage(buffer.getvalue())
    assert zlib.decompress(kept.colour) == gradient.convert("RGB").tobytes()  # several colours: untouched
