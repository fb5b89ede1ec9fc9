"""Decree 30/2020 signature appearances (issue 4, point 3; DESIGN §7): signed into their boxes on the forms of
``documents.forms``, rendered with poppler (``pdftoppm -r 72``) and read back (``pdftotext``).

At 72 dpi one pixel is one PDF point, so a box ``(x1, y1, x2, y2)`` is the pixel rectangle
``x1..x2 × (H - y2)..(H - y1)``. poppler-utils missing: skipped locally, a failure with ``CI=true``.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter

from documents.forms import (
    CertificateData,
    ReceiptData,
    ReceivedPaper,
    render_household_business_certificate,
    render_receipt,
)
from documents.layout import PAGE_SIZE
from dossiers.calendar import VN_TZ
from signing import DevelopmentPki, PadesValidator, create_signature_fields
from signing.appearance import (
    MM,
    SAO_Y,
    _reduced_font,
    attachment_box,
    attachment_style,
    copy_box,
    copy_style,
    development_seal_png,
    development_signature_png,
    iso_vietnam_time,
    leader_style,
    seal_box,
    seal_style,
)
from signing.certs import to_asn1
from signing.fields import LEADER_FIELD, SEAL_FIELD, fill_number_and_date, prepare_fields
from tests.pdftools import tool
from tests.unit.test_appearance import COMMUNE_NAME, LEADER_BOX, LEADER_NAME, MAIN_NUMBER

pytestmark = pytest.mark.integration

COMMUNE = "000.00.31.H99"
LEADER = "lanhdao.xa1"
NOW = dt.datetime.now(dt.UTC)
PAGE_W, PAGE_H = PAGE_SIZE

SEAL_BOX = seal_box(LEADER_BOX)
NUMBER_BOX = (100, 722, 260, 740)
DATE_BOX = (300, 600, 540, 618)
NUMBER = "15/GCN-UBND"
DATE_TEXT = "Demo 1, ngày 05 tháng 3 năm 2026"  # not the form's own date line (the 2nd)
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00")

Box = tuple[float, float, float, float]


# ------------------------------------------------------------------------------------------ fixtures & tools


def poppler(name: str) -> str:
    return tool(name, "poppler-utils")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    pki = DevelopmentPki(tmp_path_factory.mktemp("pki"))
    pki.ensure([(COMMUNE, COMMUNE_NAME)], [(LEADER, LEADER_NAME, COMMUNE)], NOW)
    return pki


@pytest.fixture(scope="module")
def sign(pki: DevelopmentPki) -> Callable[..., bytes]:
    """Sign an existing field with a style, through pyHanko (the dev ``person:`` key stands in for the leader's
    device here; production signs personal signatures on the person's own device)."""
    cache: dict[str, signers.SimpleSigner] = {}

    def _sign(pdf: bytes, key_id: str, field: str, style: object, *, certify: bool = False) -> bytes:
        if key_id not in cache:
            m = pki.key_material(key_id)
            cache[key_id] = signers.SimpleSigner.load_pkcs12_data(
                m.pkcs12_data, other_certs=[to_asn1(c) for c in m.chain], passphrase=m.passphrase
            )
        meta = signers.PdfSignatureMetadata(
            field_name=field,
            md_algorithm="sha256",
            subfilter=SigSeedSubFilter.PADES,
            certify=certify,
            docmdp_permissions=MDPPerm.FILL_FORMS,
        )
        pdf_signer = signers.PdfSigner(meta, signer=cache[key_id], stamp_style=style)  # type: ignore[arg-type]
        out = io.BytesIO()
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        pdf_signer.sign_pdf(writer, output=out, existing_fields_only=True)
        return out.getvalue()

    return _sign


@pytest.fixture(scope="module")
def certificate() -> bytes:
    return render_household_business_certificate(
        CertificateData(
            parent_agency=COMMUNE_NAME,
            issuing_authority="Phòng Kinh tế",
            place_name="Demo 1",
            registration_number="31H99-000123",
            first_registered_on=dt.date(2026, 3, 2),
            business_name="Tạp hóa Bình An",
            business_address="Thôn Đông, xã Demo 1",
            business_lines=("Bán lẻ lương thực, thực phẩm",),
            capital_vnd=100_000_000,
            owner_name="Nguyễn Văn An",
            owner_id_number="001090012345",
            owner_birth_date=dt.date(1985, 4, 12),
            issued_at=dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ),
            signer_name=LEADER_NAME,
        )
    )


@pytest.fixture(scope="module")
def receipt() -> bytes:
    received = dt.datetime(2026, 3, 2, 8, 30, tzinfo=VN_TZ)
    return render_receipt(
        ReceiptData(
            dossier_code="000.00.31.H99-260302-0001",
            agency_name="Bộ phận Một cửa",
            parent_agency=COMMUNE_NAME,
            place_name="Demo 1",
            applicant_name="Nguyễn Văn An",
            applicant_id_number="001090012345",
            procedure_name="Đăng ký thành lập hộ kinh doanh",
            papers=(ReceivedPaper("Giấy đề nghị đăng ký hộ kinh doanh"),),
            received_at=received,
            appointment_at=received + dt.timedelta(days=3),
            officer_name="Hoàng Thị Mai",
        )
    )


@pytest.fixture(scope="module")
def signature_png() -> bytes:
    return development_signature_png(LEADER_NAME)


@pytest.fixture(scope="module")
def seal_png() -> bytes:
    return development_seal_png(COMMUNE_NAME)


@pytest.fixture(scope="module")
def issued(certificate: bytes, sign: Callable[..., bytes], signature_png: bytes, seal_png: bytes) -> dict[str, bytes]:
    """The certificate at each step of the Decree 30 order, with the Decree 30 appearances."""
    fields = prepare_fields(
        certificate, leader_box=LEADER_BOX, number_box=NUMBER_BOX, date_box=DATE_BOX, seal_box=SEAL_BOX
    )
    leader = sign(fields, f"person:{LEADER}", LEADER_FIELD, leader_style(signature_png), certify=True)
    filled = fill_number_and_date(leader, NUMBER, DATE_TEXT)
    sealed = sign(filled, f"agency:{COMMUNE}", SEAL_FIELD, seal_style(seal_png, COMMUNE_NAME))
    return {"fields": fields, "leader": leader, "filled": filled, "sealed": sealed}


@dataclass(frozen=True)
class Word:
    text: str
    box: Box  # PDF coordinates: (x1, y1, x2, y2) from the bottom-left corner


def words(pdf: bytes, tmp_path: Path) -> list[Word]:
    """Every word on page 1 with its box, from ``pdftotext -bbox``, converted to PDF coordinates."""
    path = tmp_path / "words.pdf"
    path.write_bytes(pdf)
    html = subprocess.run(
        [poppler("pdftotext"), "-bbox", "-f", "1", "-l", "1", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    page_height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', html).group(1))  # type: ignore[union-attr]
    found = []
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
    for x1, y1, x2, y2, text in re.findall(pattern, html):
        found.append(Word(unescape(text), (float(x1), page_height - float(y2), float(x2), page_height - float(y1))))
    return found


def text_in(pdf: bytes, box: Box, tmp_path: Path) -> str:
    """``pdftotext -layout`` of the area ``box`` (cropped with -x/-y/-W/-H at 72 dpi) of page 1."""
    path = tmp_path / "crop.pdf"
    path.write_bytes(pdf)
    x1, y1, x2, y2 = box
    crop = [
        "-r", "72",
        "-x", str(int(x1)),
        "-y", str(int(PAGE_H - y2)),
        "-W", str(int(x2 - x1 + 1)),
        "-H", str(int(y2 - y1 + 1)),
    ]  # fmt: skip
    return subprocess.run(
        [poppler("pdftotext"), "-layout", "-f", "1", "-l", "1", *crop, str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def render(pdf: bytes, tmp_path: Path, name: str) -> Image.Image:
    """Page 1 at 72 dpi (``pdftoppm -r 72``), as RGB; the PNG stays in ``tmp_path`` for a look."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        [poppler("pdftoppm"), "-r", "72", "-f", "1", "-l", "1", "-singlefile", "-png", str(path), str(tmp_path / name)],
        check=True,
        timeout=60,
    )
    with Image.open(tmp_path / f"{name}.png") as img:
        return img.convert("RGB")


def phrase(found: list[Word], text: str) -> list[Word]:
    """The first run of consecutive words that spells ``text`` (case-sensitive). A line of a pyHanko stamp
    comes out as one "word": it is marked with its /ActualText, which poppler takes whole."""
    for start in range(len(found)):
        joined = ""
        for end in range(start, len(found)):
            joined = f"{joined} {found[end].text}".strip()
            if joined == text:
                return found[start : end + 1]
            if len(joined) >= len(text):
                break
    raise AssertionError(f"{text!r} not found among {[w.text for w in found]}")


def inside(inner: Box, outer: Box, tolerance: float = 1.0) -> bool:
    return (
        inner[0] >= outer[0] - tolerance
        and inner[1] >= outer[1] - tolerance
        and inner[2] <= outer[2] + tolerance
        and inner[3] <= outer[3] + tolerance
    )


def is_blue(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return b >= 120 and b - r >= 60 and b - g >= 40


def is_red(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return r >= 150 and r - g >= 80 and r - b >= 80


def pixels(img: Image.Image, test: Callable[[tuple[int, int, int]], bool]) -> Iterator[tuple[float, float]]:
    """PDF coordinates (pixel centres) of the pixels passing ``test``."""
    data = img.load()
    assert data is not None
    for py in range(img.height):
        for px in range(img.width):
            if test(data[px, py]):  # type: ignore[arg-type]
                yield px + 0.5, img.height - py - 0.5


def count_in(points: list[tuple[float, float]], box: Box) -> int:
    x1, y1, x2, y2 = box
    return sum(1 for x, y in points if x1 <= x <= x2 and y1 <= y <= y2)


# ------------------------------------------------------------------------------------------ rendered checks


def test_leader_signature_is_the_blue_image_alone_in_its_box(issued: dict[str, bytes], tmp_path: Path) -> None:
    img = render(issued["leader"], tmp_path, "leader")
    blue = list(pixels(img, is_blue))
    assert count_in(blue, LEADER_BOX) > 500, "the signature image is drawn in the leader's box"
    assert count_in(blue, LEADER_BOX) == len(blue), "and nowhere else"
    assert not list(pixels(img, is_red))
    xs = [x for x, _ in blue]
    x1, _, x2, _ = LEADER_BOX
    assert min(xs) < x1 + (x2 - x1) / 4 and max(xs) > x2 - (x2 - x1) / 4, "the image spans the box"
    assert text_in(issued["leader"], LEADER_BOX, tmp_path).strip() == "", "no text in the leader's signature"


def test_seal_is_red_over_the_left_third_with_name_and_time(
    issued: dict[str, bytes], pki: DevelopmentPki, tmp_path: Path
) -> None:
    sealed = issued["sealed"]
    img = render(sealed, tmp_path, "sealed")
    red = list(pixels(img, is_red))
    assert count_in(red, SEAL_BOX) > 1000, "the seal image is drawn in the seal's box"
    assert count_in(red, SEAL_BOX) == len(red), "and nowhere else"
    lx1, ly1, lx2, ly2 = LEADER_BOX
    third = lx1 + (lx2 - lx1) / 3
    assert count_in(red, (lx1, ly1, third, ly2)) > 200, "the seal covers the left third of the leader's box"
    assert count_in(red, (third + 1.5, ly1, lx2, ly2)) == 0, "and no more of it"
    assert min(x for x, _ in red) < lx1 - 20, "the rest of the seal stands out on the left"
    assert count_in(list(pixels(img, is_blue)), LEADER_BOX) > 300, "the leader's signature is still there"

    found = words(sealed, tmp_path)
    name = phrase(found, COMMUNE_NAME)
    assert all(inside(w.box, SEAL_BOX) for w in name), [w.box for w in name]
    times = [w for w in found if ISO_TIME.fullmatch(w.text)]
    assert len(times) == 1 and inside(times[0].box, SEAL_BOX), times
    crop = text_in(sealed, SEAL_BOX, tmp_path)
    assert COMMUNE_NAME in " ".join(crop.split()) and times[0].text in crop

    report = PadesValidator(pki.trust_roots()).validate(sealed)
    assert report.passed, report
    seal = report.signatures[-1]
    assert seal.field_name == SEAL_FIELD and seal.signing_time is not None
    assert times[0].text == iso_vietnam_time(seal.signing_time), "the stamp shows the signature's own time"


def test_number_and_date_fields_show_vietnamese_text_in_their_boxes(issued: dict[str, bytes], tmp_path: Path) -> None:
    filled = issued["filled"]
    assert "Số" not in text_in(issued["leader"], NUMBER_BOX, tmp_path), "empty before the records clerk fills it"
    assert " ".join(text_in(filled, NUMBER_BOX, tmp_path).split()) == f"Số: {NUMBER}"
    assert " ".join(text_in(filled, DATE_BOX, tmp_path).split()) == DATE_TEXT
    found = words(filled, tmp_path)
    assert all(inside(w.box, NUMBER_BOX) for w in phrase(found, f"Số: {NUMBER}"))
    assert all(inside(w.box, DATE_BOX) for w in phrase(found, DATE_TEXT))


def _font_size(word: Word) -> float:
    """The font size of a word set in Noto Serif: poppler's box is ascent + descent = 1.362 em."""
    return (word.box[3] - word.box[1]) / 1.362


def test_attachment_signature_top_right_without_image(
    receipt: bytes, sign: Callable[..., bytes], tmp_path: Path
) -> None:
    box = attachment_box(PAGE_W, PAGE_H)
    assert box[2] <= PAGE_W - 15 * MM and box[3] <= PAGE_H and box[1] >= PAGE_H - 25 * MM, box
    pdf = create_signature_fields(receipt, ["attachment_seal"], boxes={"attachment_seal": (0, box)})
    signed = sign(pdf, f"agency:{COMMUNE}", "attachment_seal", attachment_style(MAIN_NUMBER, COMMUNE_NAME))

    img = render(signed, tmp_path, "attachment")
    assert not list(pixels(img, is_red)) and not list(pixels(img, is_blue)), "no image"
    found = words(signed, tmp_path)
    stamp = [*phrase(found, MAIN_NUMBER), *phrase(found, COMMUNE_NAME)]
    stamp += [w for w in found if ISO_TIME.fullmatch(w.text)]
    for word in stamp:
        assert inside(word.box, box), (word, box)
        assert _font_size(word) == pytest.approx(10, abs=0.5), word
    assert max(w.box[2] for w in stamp) > box[2] - 3, "set flush right, in the top right corner"
    crop = text_in(signed, box, tmp_path)
    assert MAIN_NUMBER in crop and "+07:00" in crop

    fonts = subprocess.run(
        [poppler("pdffonts"), str(tmp_path / "attachment.pdf")], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # every font embedded
    stamp_fonts = [line.split() for line in fonts if "+NotoSerif-Regular-Identity-H" in line]
    assert len(stamp_fonts) == 1 and stamp_fonts[0][-5:-2] == ["yes", "yes", "yes"], fonts  # a subset, ToUnicode


def test_electronic_copy_signature_shows_copy_form_agency_and_time(
    certificate: bytes, sign: Callable[..., bytes], tmp_path: Path
) -> None:
    box = copy_box(PAGE_W, PAGE_H)
    pdf = create_signature_fields(certificate, ["copy_seal"], boxes={"copy_seal": (0, box)})
    signed = sign(pdf, f"agency:{COMMUNE}", "copy_seal", copy_style(SAO_Y, COMMUNE_NAME))

    img = render(signed, tmp_path, "copy")
    assert not list(pixels(img, is_red)) and not list(pixels(img, is_blue)), "no image"
    found = words(signed, tmp_path)
    stamp = [*phrase(found, SAO_Y), *phrase(found, COMMUNE_NAME), *(w for w in found if ISO_TIME.fullmatch(w.text))]
    for word in stamp:
        assert inside(word.box, box), (word, box)
        assert _font_size(word) == pytest.approx(10, abs=0.5), word
    crop = " ".join(text_in(signed, box, tmp_path).split())
    assert crop.startswith(SAO_Y) and COMMUNE_NAME in crop and crop.endswith("+07:00")


def test_one_style_serves_many_documents_and_threads(
    certificate: bytes, sign: Callable[..., bytes], seal_png: bytes, pki: DevelopmentPki, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    style = seal_style(seal_png, COMMUNE_NAME)  # built once, shared (the image is encoded once per process)
    pdf = prepare_fields(
        certificate, leader_box=LEADER_BOX, number_box=NUMBER_BOX, date_box=DATE_BOX, seal_box=SEAL_BOX
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: sign(pdf, f"agency:{COMMUNE}", SEAL_FIELD, style), range(8)))
    validator = PadesValidator(pki.trust_roots())
    for index, signed in enumerate(results[:3]):
        assert validator.validate(signed).passed
        red = list(pixels(render(signed, tmp_path, f"shared-{index}"), is_red))
        assert count_in(red, SEAL_BOX) > 1000 and count_in(red, SEAL_BOX) == len(red)
    assert all(b"/SMask" in signed[len(pdf) :] for signed in results), "every document got its own image"


# ------------------------------------------------------------------------------------------ images and fonts on disk


def test_development_images_are_deterministic_transparent_and_cached(tmp_path: Path) -> None:
    from signing.appearance import _draw_seal, _draw_signature

    assert _draw_signature(LEADER_NAME) == _draw_signature(LEADER_NAME)
    assert _draw_signature(LEADER_NAME) != _draw_signature("Hoàng Thị Mai")
    assert _draw_seal(COMMUNE_NAME) == _draw_seal(COMMUNE_NAME)
    for png, colour in (
        (development_signature_png(LEADER_NAME), is_blue),
        (development_seal_png(COMMUNE_NAME), is_red),
    ):
        with Image.open(io.BytesIO(png)) as img:
            assert img.mode == "RGBA"
            rgba = img.convert("RGBA")
            assert rgba.getpixel((0, 0))[3] == 0, "transparent background"
            opaque = [p[:3] for p in rgba.get_flattened_data() if p[3] > 200]
            assert len(opaque) > 1000 and all(colour(p) for p in opaque), "one ink colour, nothing else"
    on_disk = development_seal_png("Ủy ban nhân dân xã Demo 9", cache_dir=tmp_path)
    files = list(tmp_path.glob("seal-*.png"))
    assert len(files) == 1 and files[0].read_bytes() == on_disk
    assert development_seal_png("Ủy ban nhân dân xã Demo 9", cache_dir=tmp_path) is on_disk


def test_a_stamp_font_must_have_1000_units_per_em(tmp_path: Path) -> None:
    builder = FontBuilder(2048, isTTF=True)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({ord("A"): "A"})
    pen = TTGlyphPen(None)
    builder.setupGlyf({".notdef": pen.glyph(), "A": pen.glyph()})
    builder.setupHorizontalMetrics({".notdef": (1024, 0), "A": (1024, 0)})
    builder.setupHorizontalHeader(ascent=1900, descent=-500)
    builder.setupNameTable({"familyName": "Wide", "styleName": "Regular", "psName": "Wide-Regular"})
    builder.setupOS2()
    builder.setupPost()
    path = tmp_path / "wide.ttf"
    builder.save(str(path))
    with pytest.raises(ValueError, match="unitsPerEm"):
        _reduced_font(path)
