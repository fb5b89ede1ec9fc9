"""Decree 30/2020/NĐ-CP signature appearances (Appendix I; DESIGN §7), as pyHanko stamp styles.

What Appendix I of Decree 30 asks of an electronic administrative document, and what this module draws:

* **the competent person's signature** (the leader): the image of the person's handwritten signature, blue,
  a PNG with a transparent background, centred between the signer's title and printed name; no text —
  :func:`leader_style`;
* **the agency's signature** (the records clerk applies it, with the agency key): the image of the agency's seal,
  red, at the seal's real size, a PNG with a transparent background, covering about one third of the leader's
  signature image on the left; information: the agency name and the signing time (date, hour, minute, second,
  Vietnam time zone, ISO 8601) — :func:`seal_style` in :func:`seal_box`;
* **an attachment in a separate file**: the agency's signature at the top right of the attachment's first page,
  no image; information: the main document's number and symbol and the signing time (here also the agency
  name), Times New Roman style, 10 pt, upright, black — :func:`attachment_style` in :func:`attachment_box`;
* **an electronic copy of a paper document** ("Sao y" and the other copy forms): the copying agency's signature
  at the top right of the first page, no image; information: the copy form, the copying agency and the
  signing time, 10 pt — :func:`copy_style` in :func:`copy_box`.

Text is set in the embedded Noto Serif (the Times-style serif shipped in ``documents/fonts``). Its
``unitsPerEm`` is 1000: pyHanko writes glyph widths unscaled, so a font with another ``unitsPerEm`` (DejaVu,
Liberation: 2048) would be drawn with wrong spacing.

The signing time shown is the very time pyHanko puts in the signature (its ``%(ts)s`` parameter, the
``signingTime`` attribute), converted to Vietnam time: ``2026-03-02T08:00:00+07:00``, whatever the server's
time zone (:class:`VietnamTimeStampStyle`).

Speed — what is built once per process and reused for every document, through pyHanko's public API (no
patching of its modules; one subclass overrides one of its private methods, below):

* the stamp font: Noto Serif is parsed and cut down once (fontTools) to Latin and Vietnamese letters, digits and
  punctuation, without OpenType layout tables (720 of its 3 256 glyphs; :func:`warm_up`, ≈ 160 ms); every
  stamp then parses that small font (:class:`VietnameseFontFactory`, ≈ 3 ms) instead of the whole file
  (pyHanko's ``GlyphAccumulatorFactory``: ≈ 120 ms per stamp), and the subset it embeds is made once per set
  of glyphs (:class:`_SubsetOnceAccumulator` overrides ``GlyphAccumulator._extract_subset`` of the pinned
  pyHanko 0.38; ``tests/integration/test_lean_documents.py`` fails if that hook stops being called);
* the images: each PNG is decoded once and its PDF image objects (colour data and soft mask, Flate-compressed)
  are encoded once (:class:`PngImage`); a document only gets a copy of the compressed bytes;
* the stamp styles are immutable, cost ≈ 0.1 ms to build and may be built once and shared by any number of
  documents and threads (:class:`PngImage` keeps its per-document state per thread).

Measured (1-page form, EC P-256 development keys, key already loaded, median of 30, one core): invisible
signature 17.5 ms; leader (certifying, image) 18.3 ms; seal (image and text) 29.7 ms; attachment / copy (text)
26 ms; the same text stamp with pyHanko's stock ``GlyphAccumulatorFactory`` 135 ms; number and date filled
14.8 ms; fields prepared 1.2 ms.

The development images (:func:`development_signature_png`, :func:`development_seal_png`) are generated with
Pillow, deterministic (same name → same PNG bytes) and cached in memory and, given a directory, on disk.
Production uses the scanned signature and seal images of the real people and agencies instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import os
import random
import tempfile
import threading
import unicodedata
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fontTools import subset as ft_subset
from fontTools import ttLib
from PIL import Image, ImageDraw, ImageFont, ImageStat
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import PdfContent, PdfResources, ResourceType
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import CIDFontType2, GlyphAccumulator
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import StaticStampStyle, TextStamp, TextStampStyle

import documents
from dossiers.calendar import VN_TZ

__all__ = [
    "COPY_FORMS",
    "ELECTRONIC_COPY",
    "FONT_FILE",
    "MM",
    "SAO_LUC",
    "SAO_Y",
    "TRICH_SAO",
    "AppearanceConfig",
    "Box",
    "PngImage",
    "VietnameseFontFactory",
    "VietnamTimeStampStyle",
    "attachment_box",
    "attachment_style",
    "copy_box",
    "copy_style",
    "development_seal_png",
    "development_signature_png",
    "font_factory",
    "iso_vietnam_time",
    "leader_style",
    "seal_box",
    "seal_style",
    "text_box_style",
    "warm_up",
]

Box = tuple[float, float, float, float]
"""``(x1, y1, x2, y2)`` in PDF points from the bottom-left corner of the page (pyHanko's ``SigFieldSpec.box``)."""

MM = 72 / 25.4
FONT_FILE = Path(documents.__file__).resolve().parent / "fonts" / "NotoSerif-Regular-Unhinted.ttf"
"""The stamps' font: the one the forms embed (``documents.layout.PDF_FONT_FILES``, no TrueType hinting)."""
BOLD_FONT_FILE = FONT_FILE.with_name("NotoSerif-Bold.ttf")  # the development seal's ring, drawn by Pillow

# Copy forms (Decree 30, Article 25): "sao y", "sao lục", "trích sao". A paper document turned electronic is a
# "sao y" made by digitising it and signing it with the agency's key.
SAO_Y = "SAO Y"
SAO_LUC = "SAO LỤC"
TRICH_SAO = "TRÍCH SAO"
ELECTRONIC_COPY = "Bản sao điện tử"
COPY_FORMS = (SAO_Y, SAO_LUC, TRICH_SAO, ELECTRONIC_COPY)

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # what pyHanko formats the signing time with; re-read and shown as +07:00


@dataclass(frozen=True)
class AppearanceConfig:
    """Per-form settings of the Decree 30 appearances. The defaults follow Appendix I."""

    font_file: Path = FONT_FILE
    """A TrueType/OpenType font with Vietnamese glyphs and ``unitsPerEm`` = 1000 (checked)."""
    font_size: int = 10
    """Size of the stamp text in points (Decree 30: 10 pt); long lines are shrunk to fit their box."""
    text_color: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """RGB 0..1; black."""
    kerning: bool = False
    """Pair kerning in the stamp text (≈ 5 ms more per stamp: fontTools re-reads the kerning table each time)."""
    seal_diameter: float | None = None
    """The seal's real size in points; ``None``: the height of the leader's box (a 35 mm seal in a 100 pt box)."""
    seal_overlap: float = 1 / 3
    """Which part of the leader's box, from its left edge, the seal covers."""
    signature_margin: float = 4.0
    """Margin between the leader's box and the signature image, in points."""
    top_right_size: tuple[float, float] = (230.0, 44.0)
    """Width and height of the attachment / copy stamp box, in points."""
    top_right_margins: tuple[float, float] = (15 * MM, 4 * MM)
    """Distance of that box from the right and the top edges of the page (inside the 20 mm top margin)."""


DEFAULT_CONFIG = AppearanceConfig()
SEAL_POINTS = 100.0  # the seal's size when the configuration gives none: the leader's box height (35 mm)


# ----------------------------------------------------------------------------------------------- time


def iso_vietnam_time(moment: dt.datetime) -> str:
    """``2026-03-02T08:00:00+07:00``: ISO 8601, to the second, in Vietnam time."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime")
    return moment.astimezone(VN_TZ).isoformat(timespec="seconds")


@dataclass(frozen=True)
class VietnamTimeStampStyle(TextStampStyle):
    """A :class:`~pyhanko.stamp.TextStampStyle` that shows ``%(ts)s`` in Vietnam time, ISO 8601 with ``+07:00``.

    pyHanko formats the signing time in the server's local time zone with :attr:`timestamp_format` (and
    ``strftime`` cannot write ``+07:00`` before Python 3.12). This style asks for a machine-readable format,
    reads the value back when pyHanko creates the stamp and writes it in Vietnam time — the time shown is
    exactly the signature's signing time, never a second clock reading.
    """

    timestamp_format: str = ISO_FORMAT
    text_band: tuple[float, float] | None = None
    """Optional ``(bottom, top)`` fractions of the stamp's height between which the text is centred (and shrunk
    to fit); ``None`` keeps :attr:`inner_content_layout` as it is."""

    def create_stamp(
        self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict[str, Any]
    ) -> TextStamp:
        params = dict(text_params or {})
        raw = params.get("ts")
        moment: dt.datetime | None = None
        if isinstance(raw, dt.datetime):
            moment = raw
        elif isinstance(raw, str):
            try:
                moment = dt.datetime.strptime(raw, self.timestamp_format)
            except ValueError:
                moment = None
        else:
            moment = dt.datetime.now(VN_TZ)
        if moment is not None and moment.tzinfo is not None:
            params["ts"] = iso_vietnam_time(moment)
        style: TextStampStyle = self
        if self.text_band is not None and box.height_defined:
            bottom, top = self.text_band
            rule = self.inner_content_layout or _CENTRE
            margins = layout.Margins(
                left=rule.margins.left,
                right=rule.margins.right,
                bottom=round(box.height * bottom),
                top=round(box.height * (1 - top)),
            )
            style = replace(self, inner_content_layout=replace(rule, margins=margins), text_band=None)
        return TextStampStyle.create_stamp(style, writer, box, params)


# ----------------------------------------------------------------------------------------------- font

# Vietnamese in NFC needs Basic Latin, Latin-1, Latin Extended-A/B (ă â đ ê ô ơ ư, Ơ Ư) and Latin Extended
# Additional (ạ ả ấ … ỹ); the combining marks cover decomposed input; a few punctuation and symbol blocks.
_UNICODE_RANGES = (
    (0x0020, 0x007E),
    (0x00A0, 0x00FF),
    (0x0100, 0x017F),
    (0x0180, 0x024F),
    (0x0300, 0x0323),
    (0x1EA0, 0x1EF9),
    (0x2010, 0x2027),
    (0x2030, 0x203A),
    (0x2116, 0x2116),  # №
    (0x2122, 0x2122),
    (0x2212, 0x2212),
)

_reduced_fonts: dict[tuple[Path, bool], bytes] = {}
_reduced_lock = threading.Lock()


def _reduced_font(path: Path, kerning: bool = False) -> bytes:
    """The font at ``path`` cut down to :data:`_UNICODE_RANGES`, built once per process.

    The OpenType layout tables are dropped (``kerning``: all but pair kerning are): stamp text is NFC, and
    Noto has every precomposed Vietnamese letter, so no mark positioning is needed — and fontTools decompiles
    those tables again for every document's subset (≈ 25 ms of the ≈ 30 ms it takes with all of them)."""
    key = (Path(path).resolve(), kerning)
    found = _reduced_fonts.get(key)
    if found is not None:
        return found
    with _reduced_lock:
        found = _reduced_fonts.get(key)
        if found is not None:
            return found
        font = ttLib.TTFont(str(key[0]))
        units = font["head"].unitsPerEm
        if units != 1000:
            raise ValueError(
                f"{key[0].name}: unitsPerEm is {units}; pyHanko writes glyph widths unscaled, so stamp fonts "
                "need unitsPerEm = 1000 (Noto Serif / Noto Sans)"
            )
        options = ft_subset.Options()
        options.layout_features = ["kern"] if kerning else []
        if not kerning:
            options.drop_tables += ["GSUB", "GPOS", "GDEF"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        options.glyph_names = True
        subsetter = ft_subset.Subsetter(options=options)
        subsetter.populate(unicodes=[cp for lo, hi in _UNICODE_RANGES for cp in range(lo, hi + 1)])
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
        _reduced_fonts[key] = data = out.getvalue()
        return data


_subsets: OrderedDict[tuple[Path, bool, frozenset[int]], bytes] = OrderedDict()
_subsets_lock = threading.Lock()
_SUBSET_CACHE_SIZE = 512


class _CachedSubsetFont(CIDFontType2):
    """pyHanko's TrueType CID font whose font program, once subset, comes from :data:`_subsets`."""

    font_program: bytes | None = None  # the Flate-compressed subset, when the accumulator found or made it

    def set_font_file(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        if self.font_program is None:
            return super().set_font_file(writer)  # type: ignore[no-any-return]
        stream = generic.StreamObject(
            generic.DictionaryObject({pdf_name("/Filter"): pdf_name("/FlateDecode")}),
            encoded_data=self.font_program,
        )
        ref = writer.add_object(stream)
        self._font_descriptor[pdf_name("/FontFile2")] = ref
        return ref


class _SubsetOnceAccumulator(GlyphAccumulator):
    """A :class:`GlyphAccumulator` whose embedded subset is made once per process for each set of glyphs.

    A stamp's glyphs are the agency's name, the words around it and the digits of the time: the same few sets
    again and again. pyHanko subsets the font and writes the TrueType program again for every signature
    (fontTools: ≈ 8 ms of a ≈ 26 ms seal); here the compressed program is kept, keyed by font file and glyph
    set (the glyph ids are kept as they are, ``retain_gids``, so the program depends on nothing else). The
    widths and the ToUnicode map are still written per document from the glyphs it uses."""

    def __init__(self, *args: Any, font_key: tuple[Path, bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._font_key = font_key
        if type(self.cidfont_obj) is CIDFontType2:
            cached = _CachedSubsetFont(self.tt, self.cidfont_obj.name.split("+", 1)[1], self.subset_prefix)
            self.cidfont_obj = cached

    def _extract_subset(self, options: Any = None) -> None:
        cidfont = self.cidfont_obj
        if not isinstance(cidfont, _CachedSubsetFont):
            super()._extract_subset(options)
            return
        key = (*self._font_key, frozenset(self._glyphs))
        with _subsets_lock:
            found = _subsets.get(key)
            if found is not None:
                _subsets.move_to_end(key)
        if found is None:
            super()._extract_subset(options)
            out = io.BytesIO()
            self.tt.save(out)
            found = _flate(out.getvalue())
            with _subsets_lock:
                _subsets[key] = found
                while len(_subsets) > _SUBSET_CACHE_SIZE:
                    _subsets.popitem(last=False)
        cidfont.font_program = found


@dataclass(frozen=True)
class VietnameseFontFactory(FontEngineFactory):
    """Creates pyHanko's :class:`~pyhanko.pdf_utils.font.opentype.GlyphAccumulator` (the engine behind
    :class:`~pyhanko.pdf_utils.font.opentype.GlyphAccumulatorFactory`) on a Vietnamese cut of the font made
    once per process (:func:`_reduced_font`), so a document parses and subsets ≈ 100 kB of font with no layout
    tables instead of the whole 590 kB file: ≈ 6 ms instead of ≈ 120 ms per stamp.

    Stateless and thread-safe: each writer gets its own engine (its own embedded subset). Text must be NFC."""

    font_file: Path = FONT_FILE
    font_size: int = 10
    kerning: bool = False

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: Any = None) -> GlyphAccumulator:
        data = _reduced_font(self.font_file, self.kerning)
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()
        return _SubsetOnceAccumulator(
            writer=writer,
            font_key=(Path(self.font_file).resolve(), self.kerning),
            font_handle=io.BytesIO(data),
            font_size=self.font_size,
            ot_script_tag="latn",
            ot_language_tag="VIT ",
            bcp47_lang_code="vi",
            obj_stream=obj_stream,
        )


def font_factory(config: AppearanceConfig = DEFAULT_CONFIG) -> VietnameseFontFactory:
    return VietnameseFontFactory(font_file=config.font_file, font_size=config.font_size, kerning=config.kerning)


_TEXT_ONLY = layout.SimpleBoxLayoutRule(
    x_align=layout.AxisAlignment.ALIGN_MIN,
    y_align=layout.AxisAlignment.ALIGN_MIN,
    margins=layout.Margins(),
    inner_content_scaling=layout.InnerScaling.NO_SCALING,
)


def text_box_style(config: AppearanceConfig = DEFAULT_CONFIG, **overrides: Any) -> TextBoxStyle:
    """The text style of the stamps (and of the number and date fields): the embedded font, black, no border."""
    base: dict[str, Any] = {
        "box_layout_rule": _TEXT_ONLY,  # no margins of its own: the stamp's layout rule places the text
        "font": font_factory(config),
        "font_size": config.font_size,
        "leading": round(config.font_size * 1.2),
        "border_width": 0,
        "text_color": config.text_color,
    }
    base.update(overrides)
    return TextBoxStyle(**base)


# ----------------------------------------------------------------------------------------------- images


class _EncodedImage:
    """A PNG decoded once and turned into the Flate-compressed streams of a PDF image and its soft mask."""

    def __init__(self, png: bytes, max_side: int | None = None) -> None:
        with Image.open(io.BytesIO(png)) as opened:
            img = opened.convert("RGBA") if opened.mode not in ("RGB", "L", "RGBA", "LA") else opened.copy()
        if max_side is not None and max(img.size) > max_side:
            scale = max_side / max(img.size)
            size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
            img = img.resize(size, Image.Resampling.LANCZOS)
        self.width, self.height = img.size
        alpha = img.getchannel("A") if img.mode.endswith("A") else None
        colour = img.convert(img.mode[:-1]) if alpha is not None else img
        if alpha is not None:
            ink = _single_ink(colour, alpha)
            if ink is not None:  # a stamp: one ink, its shape and edges all in the soft mask
                colour = Image.new(colour.mode, colour.size, ink)
        self.colour_space = "/DeviceGray" if colour.mode == "L" else "/DeviceRGB"
        self.colour = _flate(colour.tobytes())
        self.alpha = _flate(alpha.tobytes()) if alpha is not None else None


INK_SPREAD = 12.0  # standard deviation per channel over the opaque pixels: one ink (a drawn seal or signature)


def _single_ink(colour: Image.Image, alpha: Image.Image) -> int | tuple[int, ...] | None:
    """The one colour of an image drawn in a single ink on a transparent ground (a seal or signature stamp), or
    None. Such an image's colour data can be that flat colour: the soft mask alone carries the shape and the
    anti-aliased edges, and a flat colour compresses to almost nothing (a 600 px seal: 54 KB → 2 KB per document).
    A scanned seal with uneven ink stays as it is."""
    opaque = alpha.point(lambda a: 255 if a > 128 else 0)  # the edges' colours are blends: judged on the body
    if opaque.getbbox() is None:
        return None
    stats = ImageStat.Stat(colour, opaque)
    if any(spread > INK_SPREAD for spread in stats.stddev):
        return None
    ink = tuple(round(v) for v in stats.median)
    return ink[0] if colour.mode == "L" else ink


def _flate(data: bytes) -> bytes:
    return zlib.compress(data, 6)


_images: OrderedDict[str, _EncodedImage] = OrderedDict()
_images_lock = threading.Lock()
_IMAGE_CACHE_SIZE = 256


PRINT_PPI = 300
"""A stamp image is embedded at no more than this resolution at its size on the page (a 35 mm seal: 413
pixels): what a printer can put on paper; a 600-pixel seal's soft mask at 432 ppi was a third of a receipt."""


def pixels_for(points: float, ppi: int = PRINT_PPI) -> int:
    """How many pixels ``points`` take at ``ppi``, rounded up."""
    return math.ceil(points / 72 * ppi)


def _encoded(png: bytes, max_side: int | None = None) -> _EncodedImage:
    key = f"{hashlib.sha256(png).hexdigest()}:{max_side}"
    with _images_lock:
        found = _images.get(key)
        if found is not None:
            _images.move_to_end(key)
            return found
    encoded = _EncodedImage(png, max_side)
    with _images_lock:
        _images[key] = encoded
        while len(_images) > _IMAGE_CACHE_SIZE:
            _images.popitem(last=False)
    return encoded


class PngImage(PdfContent):
    """A PNG (with transparency) as :class:`~pyhanko.pdf_utils.content.PdfContent`, like pyHanko's
    :class:`~pyhanko.pdf_utils.images.PdfImage`, but the image is decoded and compressed once per process:
    each document only gets a copy of the compressed streams.

    ``width`` × ``height`` (points) is the natural size the stamp's layout rule scales; by default the pixel
    size. pyHanko binds a background to one writer at a time (``set_writer``, then ``render``); here the writer
    and the resources are per thread, so one instance — and the stamp style holding it — can be shared by
    concurrent signings in several threads.
    """

    def __init__(
        self, png: bytes, *, width: float | None = None, height: float | None = None, max_side: int | None = None
    ) -> None:
        self._image = image = _encoded(png, max_side)
        self._local = threading.local()
        if width is None and height is None:
            width, height = float(image.width), float(image.height)
        elif width is None:
            assert height is not None
            width = height * image.width / image.height
        elif height is None:
            height = width * image.height / image.width
        super().__init__(box=layout.BoxConstraints(width=width, height=height))

    # per-thread state: the writer the image is being embedded into, its resources and image reference

    @property
    def writer(self) -> BasePdfFileWriter | None:
        ref = getattr(self._local, "writer", None)
        return ref() if ref is not None else None  # a weak reference: a finished document is not kept alive

    @writer.setter
    def writer(self, writer: BasePdfFileWriter | None) -> None:
        if writer is not self.writer:
            self._local.resources = PdfResources()
            self._local.ref = None
        self._local.writer = weakref.ref(writer) if writer is not None else None

    @property
    def resources(self) -> PdfResources:
        found = getattr(self._local, "resources", None)
        if found is None:
            found = self._local.resources = PdfResources()
        return found

    def set_resource(self, category: ResourceType, name: generic.NameObject, value: generic.PdfObject) -> None:
        self.resources[category][name] = value

    def import_resources(self, resources: PdfResources) -> None:
        mine = self.resources
        mine += resources

    def _image_ref(self) -> generic.IndirectObject:
        writer = self.writer
        assert writer is not None, "PngImage: set_writer() first"
        ref = getattr(self._local, "ref", None)
        if ref is not None:
            return ref  # type: ignore[no-any-return]
        image = self._image
        entries: dict[Any, Any] = {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Image"),
            pdf_name("/Width"): generic.NumberObject(image.width),
            pdf_name("/Height"): generic.NumberObject(image.height),
            pdf_name("/BitsPerComponent"): generic.NumberObject(8),
            pdf_name("/ColorSpace"): pdf_name(image.colour_space),
            pdf_name("/Filter"): pdf_name("/FlateDecode"),
        }
        if image.alpha is not None:
            mask = {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Image"),
                pdf_name("/Width"): generic.NumberObject(image.width),
                pdf_name("/Height"): generic.NumberObject(image.height),
                pdf_name("/BitsPerComponent"): generic.NumberObject(8),
                pdf_name("/ColorSpace"): pdf_name("/DeviceGray"),
                pdf_name("/Filter"): pdf_name("/FlateDecode"),
            }
            entries[pdf_name("/SMask")] = writer.add_object(
                generic.StreamObject(generic.DictionaryObject(mask), encoded_data=image.alpha)
            )
        ref = writer.add_object(generic.StreamObject(generic.DictionaryObject(entries), encoded_data=image.colour))
        self._local.ref = ref
        return ref

    def render(self) -> bytes:
        self.set_resource(ResourceType.XOBJECT, pdf_name("/Im0"), self._image_ref())
        return b"q %g 0 0 %g 0 0 cm /Im0 Do Q" % (self.box.width, self.box.height)


# ----------------------------------------------------------------------------------------------- styles

_CENTRE = layout.SimpleBoxLayoutRule(
    x_align=layout.AxisAlignment.ALIGN_MID,
    y_align=layout.AxisAlignment.ALIGN_MID,
    inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT,
)


def leader_style(signature_png: bytes, config: AppearanceConfig = DEFAULT_CONFIG) -> StaticStampStyle:
    """The competent person's signature: the blue signature image, no text, no frame.

    The image is scaled, keeping its proportions, to fill the field's box less
    :attr:`AppearanceConfig.signature_margin`, and centred in it."""
    return StaticStampStyle(
        background=PngImage(signature_png),
        background_opacity=1.0,
        background_layout=replace(_CENTRE, margins=layout.Margins.uniform(config.signature_margin)),
        border_width=0,
    )


def _escape(text: str) -> str:
    """Text for a pyHanko template: NFC, ``%`` doubled, no line breaks."""
    return unicodedata.normalize("NFC", " ".join(text.split())).replace("%", "%%")


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap to lines of at most ``width`` characters (a longer word gets a line of its own)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def seal_style(seal_png: bytes, agency_name: str, config: AppearanceConfig = DEFAULT_CONFIG) -> VietnamTimeStampStyle:
    """The agency's signature: the red seal image filling its (square) box, with the agency name and the signing
    time written across the lower half of the seal, under the star.

    The text — the name wrapped to the width of the time, then ``2026-03-02T08:00:00+07:00`` — is set in the
    embedded font at :attr:`AppearanceConfig.font_size` and shrunk to the seal's width (≈ 7 pt in a 35 mm seal).
    """
    if not agency_name.strip():
        raise ValueError("agency_name is empty")
    text = "\n".join([*_wrap(_escape(agency_name), 26), "%(ts)s"])
    return VietnamTimeStampStyle(
        stamp_text=text,
        text_box_style=text_box_style(config),
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins(left=2, right=2),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        ),
        text_band=(0.1, 0.4),
        background=PngImage(seal_png, max_side=pixels_for(config.seal_diameter or SEAL_POINTS)),
        background_opacity=1.0,
        background_layout=replace(_CENTRE, margins=layout.Margins.uniform(0)),
        border_width=0,
    )


def _top_right_style(lines: list[str], config: AppearanceConfig) -> VietnamTimeStampStyle:
    return VietnamTimeStampStyle(
        stamp_text="\n".join(lines),
        text_box_style=text_box_style(config),
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MAX,
            y_align=layout.AxisAlignment.ALIGN_MAX,
            margins=layout.Margins.uniform(0),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        ),
        border_width=0,
        background=None,
    )


def attachment_style(
    main_number_symbol: str, agency_name: str | None, config: AppearanceConfig = DEFAULT_CONFIG
) -> VietnamTimeStampStyle:
    """The agency's signature on an attachment sent as a separate file: no image; the main document's number
    and symbol (``15/QĐ-UBND``), the agency name (``None`` leaves it out, as the Decree's list does) and the
    signing time, 10 pt. Place it with :func:`attachment_box`."""
    if not main_number_symbol.strip():
        raise ValueError("main_number_symbol is empty")
    lines = [_escape(main_number_symbol)]
    if agency_name and agency_name.strip():
        lines.append(_escape(agency_name))
    lines.append("%(ts)s")
    return _top_right_style(lines, config)


def copy_style(copy_type: str, copying_agency: str, config: AppearanceConfig = DEFAULT_CONFIG) -> VietnamTimeStampStyle:
    """The copying agency's signature on an electronic copy of a paper document: no image; the copy form
    (:data:`SAO_Y`, :data:`ELECTRONIC_COPY`, …), the copying agency and the signing time, 10 pt.
    Place it with :func:`copy_box`."""
    if not copy_type.strip() or not copying_agency.strip():
        raise ValueError("copy_type and copying_agency must not be empty")
    return _top_right_style([_escape(copy_type), _escape(copying_agency), "%(ts)s"], config)


# ----------------------------------------------------------------------------------------------- boxes


def seal_box(leader_box: Box, config: AppearanceConfig = DEFAULT_CONFIG) -> tuple[int, int, int, int]:
    """The seal's square, in whole points: :attr:`AppearanceConfig.seal_diameter` (default: the leader box's
    height), vertically centred on the leader's box, its right edge one third
    (:attr:`~AppearanceConfig.seal_overlap`) into it — the seal covers the left third of the leader's signature,
    the rest of the seal standing out on the left, as a seal stamped on paper."""
    x1, y1, x2, y2 = _normal(leader_box)
    diameter = round(config.seal_diameter or (y2 - y1))
    right = round(x1 + (x2 - x1) * config.seal_overlap)
    bottom = round((y1 + y2) / 2 - diameter / 2)
    return (right - diameter, bottom, right, bottom + diameter)


def attachment_box(
    page_width: float, page_height: float, config: AppearanceConfig = DEFAULT_CONFIG
) -> tuple[int, int, int, int]:
    """Top right of page 1, in the top margin, in whole points: :attr:`AppearanceConfig.top_right_size`, 15 mm
    from the right edge and 4 mm from the top (Decree 30's margins: top 20–25 mm, right 15–20 mm)."""
    width, height = config.top_right_size
    right_margin, top_margin = config.top_right_margins
    x2 = math.floor(page_width - right_margin)
    y2 = math.floor(page_height - top_margin)
    return (x2 - round(width), y2 - round(height), x2, y2)


copy_box = attachment_box


def _normal(box: Box) -> Box:
    x1, y1, x2, y2 = box
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


# ----------------------------------------------------------------------------------------------- dev images

SIGNATURE_BLUE = (16, 45, 160)
SEAL_RED = (214, 24, 32)

_png_cache: dict[tuple[str, str], bytes] = {}
_png_lock = threading.Lock()


def _cached_png(kind: str, name: str, cache_dir: Path | None, make: Callable[[], bytes]) -> bytes:
    key = (kind, unicodedata.normalize("NFC", name))
    with _png_lock:
        found = _png_cache.get(key)
    if found is not None:
        return found
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(f"{kind}\0{key[1]}".encode()).hexdigest()[:32]
        path = Path(cache_dir) / f"{kind}-{digest}.png"
        if path.exists():
            data = path.read_bytes()
            with _png_lock:
                _png_cache[key] = data
            return data
    data = make()
    if path is not None:
        from signing.pki import private_dir

        private_dir(path.parent)  # under the PKI's directory: 0700 like it
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    with _png_lock:
        _png_cache[key] = data
    return data


def _rng(kind: str, name: str) -> random.Random:
    seed = hashlib.sha256(f"{kind}\0{unicodedata.normalize('NFC', name)}".encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


def _png_bytes(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False, compress_level=9)
    return out.getvalue()


def development_signature_png(full_name: str, *, cache_dir: Path | None = None) -> bytes:
    """A blue, handwritten-looking signature for ``full_name`` (development only): 600 × 240 px, transparent,
    no text. Deterministic — the same name gives the same bytes; cached in memory and under ``cache_dir``."""
    if not full_name.strip():
        raise ValueError("full_name is empty")
    return _cached_png("signature", full_name, cache_dir, lambda: _draw_signature(full_name))


def _draw_signature(full_name: str, width: int = 600, height: int = 240) -> bytes:
    rng = _rng("signature", full_name)
    scale = 3
    w, h = width * scale, height * scale
    img = Image.new("RGBA", (w, h), (*SIGNATURE_BLUE, 0))
    draw = ImageDraw.Draw(img)

    def stroke(points: list[tuple[float, float]], widths: list[float]) -> None:
        for (x0, y0), (x1, y1), pen in zip(points, points[1:], widths, strict=False):
            r = pen * scale / 2
            draw.line(
                [(x0 * scale, y0 * scale), (x1 * scale, y1 * scale)], fill=(*SIGNATURE_BLUE, 255), width=round(2 * r)
            )
            draw.ellipse([x1 * scale - r, y1 * scale - r, x1 * scale + r, y1 * scale + r], fill=(*SIGNATURE_BLUE, 255))

    # the name: a run of cursive loops, one group per word, each loop its own height, slightly rising
    words = max(1, min(4, len(full_name.split())))
    left, right = 40.0, width - 50.0
    span = (right - left) / words
    base = height * 0.62
    for index in range(words):
        loops = rng.randint(3, 5)
        x0 = left + index * span + rng.uniform(0, span * 0.08)
        length = span * rng.uniform(0.75, 0.92)
        heights = [height * rng.uniform(0.12, 0.42) for _ in range(loops + 1)]
        heights[0] = height * (0.5 if index == 0 else 0.42)  # a taller initial
        loop_r = length / (loops * math.tau) * rng.uniform(1.3, 1.8)
        phase = rng.uniform(-0.5, 0.5)
        slant = rng.uniform(0.25, 0.4)
        points, widths = [], []
        steps = 120 * loops
        for step in range(steps + 1):
            t = step / steps
            k = t * loops
            i = min(int(k), loops - 1)
            f = (1 - math.cos(math.pi * (k - i))) / 2
            amp = min(heights[i] * (1 - f) + heights[i + 1] * f, base - 12)
            angle = math.tau * k + phase
            rise = amp * (1 + math.cos(angle)) / 2
            y = base - index * 6 - rise + 0.06 * amp * math.sin(2 * angle)
            x = x0 + length * t - loop_r * math.sin(angle) + slant * rise
            points.append((x, y))
            widths.append(2.2 + 1.8 * abs(math.sin(angle)))
        stroke(points, widths)
    # the flourish: a long stroke under the name, back from right to left, thinning out
    x_start, x_end = right + 10, left + rng.uniform(20, 80)
    y_start, y_end = base + height * 0.04, base + height * rng.uniform(0.12, 0.2)
    bend = rng.uniform(10, 25)
    points, widths = [], []
    for step in range(201):
        t = step / 200
        x = x_start + (x_end - x_start) * t
        y = y_start + (y_end - y_start) * t + bend * math.sin(math.pi * t)
        points.append((x, y))
        widths.append(3.4 * (1 - 0.75 * t))
    stroke(points, widths)
    return _png_bytes(img.resize((width, height), Image.Resampling.LANCZOS))


def development_seal_png(agency_name: str, *, cache_dir: Path | None = None) -> bytes:
    """A red round seal for ``agency_name`` (development only): 600 × 600 px, transparent; the name in
    capitals around the ring, a star in the middle. Deterministic; cached in memory and under ``cache_dir``."""
    if not agency_name.strip():
        raise ValueError("agency_name is empty")
    return _cached_png("seal", agency_name, cache_dir, lambda: _draw_seal(agency_name))


def _star(
    cx: float, cy: float, outer: float, inner: float, rotation: float = -math.pi / 2
) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        r = outer if k % 2 == 0 else inner
        a = rotation + k * math.pi / 5
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


def _draw_seal(agency_name: str, size: int = 600) -> bytes:
    scale = 2
    s = size * scale
    c = s / 2
    ink = (*SEAL_RED, 255)
    img = Image.new("RGBA", (s, s), (*SEAL_RED, 0))
    draw = ImageDraw.Draw(img)
    r_outer = s * 0.485
    ring = s * 0.022
    draw.ellipse([c - r_outer, c - r_outer, c + r_outer, c + r_outer], outline=ink, width=round(ring))
    r_inner = s * 0.335
    draw.ellipse([c - r_inner, c - r_inner, c + r_inner, c + r_inner], outline=ink, width=round(s * 0.008))
    draw.polygon(_star(c, c - s * 0.085, s * 0.17, s * 0.068), fill=ink)  # the star, high: text goes below

    # the name in capitals around the ring, centred on the top, clockwise
    text = unicodedata.normalize("NFC", " ".join(agency_name.upper().split()))
    band_mid = (r_outer - ring + r_inner) / 2
    max_arc = math.radians(200)  # the upper part of the ring: the lower half of the seal carries the stamp text
    font_size = round(s * 0.085)
    while True:
        font = ImageFont.truetype(str(BOLD_FONT_FILE), font_size)
        advances = [font.getlength(ch) * 1.08 for ch in text]
        radius = band_mid - font_size * 0.32
        total = sum(advances) / radius
        if total <= max_arc or font_size <= s * 0.035:
            break
        font_size -= 2
    angle = -math.pi / 2 - total / 2  # radians, 0 = east, clockwise on screen (y down)
    pad = font_size
    for ch, advance in zip(text, advances, strict=True):
        mid = angle + advance / 2 / radius
        if not ch.isspace():
            tile = Image.new("RGBA", (font_size * 2 + 2 * pad, font_size * 2 + 2 * pad), (*SEAL_RED, 0))
            ImageDraw.Draw(tile).text((tile.width / 2, tile.height / 2), ch, font=font, fill=ink, anchor="mm")
            rotated = tile.rotate(-math.degrees(mid + math.pi / 2), resample=Image.Resampling.BICUBIC)
            x = c + radius * math.cos(mid) - rotated.width / 2
            y = c + radius * math.sin(mid) - rotated.height / 2
            img.alpha_composite(rotated, (round(x), round(y)))
        angle += advance / radius
    # a small star at the bottom of the ring, where the text starts and ends
    draw.polygon(_star(c, c + band_mid, s * 0.035, s * 0.014), fill=ink)
    return _png_bytes(img.resize((size, size), Image.Resampling.LANCZOS))


# ----------------------------------------------------------------------------------------------- warm-up


def warm_up(config: AppearanceConfig = DEFAULT_CONFIG) -> None:
    """Build the process-wide caches now (the reduced font), e.g. when a worker starts, so the first
    signature does not pay for it."""
    _reduced_font(config.font_file, config.kerning)
