"""PDF/A-2b for every PDF :mod:`documents` generates: documents issued by an agency are archived for decades, and
ISO 19005-2 (level B: the pages look the same forever) is what an archive can check with veraPDF.

What a reportlab PDF lacks and this module adds, in one place:

* an OutputIntent (``/S /GTS_PDFA1``) with the sRGB ICC profile of :data:`SRGB_PROFILE`, so that the
  DeviceRGB/DeviceGray colours the pages use are device independent (ISO 19005-2 §6.2.3, §6.2.4.3);
* the XMP metadata stream in the catalog (§6.6.2.1), uncompressed, with ``pdfaid:part=2``,
  ``pdfaid:conformance=B`` and the document information dictionary mirrored (Title → ``dc:title``, Author →
  ``dc:creator``, Subject → ``dc:description``, Keywords → ``pdf:Keywords``, Creator → ``xmp:CreatorTool``,
  Producer → ``pdf:Producer``, the dates → ``xmp:CreateDate``/``xmp:ModifyDate``; §6.6.2.3.1);
* an end-of-line before every ``endstream`` (§6.1.7.1: reportlab writes the keyword right after the data).

The fonts are already embedded subsets (:mod:`documents.layout`), nothing is transparent, and no renderer creates
form fields: the signature fields and their widgets are added later by :mod:`signing` (and by
``services.civil_status.certified_copy_fields``), with the signature.

:class:`ArchivalCanvas` is the reportlab canvas every renderer draws on (``documents.layout.canvas``, the
``canvasmaker`` of the register's ``SimpleDocTemplate``); :func:`mark_writer` does the same for a PDF assembled
with pyHanko's writer (a certified copy).

The ICC profile is LittleCMS's built-in sRGB (IEC 61966-2.1) profile, written once with Pillow's
``ImageCms.createProfile("sRGB")``; its copyright tag reads "No copyright, use freely" (see
``documents/color/README.txt``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFStream, PDFString
from reportlab.pdfgen.canvas import Canvas

SRGB_PROFILE = Path(__file__).resolve().parent / "color" / "sRGB.icc"
"""LittleCMS's built-in sRGB profile (ICC v4, 588 bytes), the DestOutputProfile of every OutputIntent."""

OUTPUT_CONDITION = "sRGB IEC61966-2.1"
PDFA_PART = 2
PDFA_CONFORMANCE = "B"


@functools.cache
def srgb_profile() -> bytes:
    return SRGB_PROFILE.read_bytes()


# --------------------------------------------------------------------------------------------------------------
# The XMP packet


def xmp_date(pdf_date: str) -> str:
    """A PDF date string (``D:20260302091500+07'00'``) as the XMP date the Info dictionary's date must equal."""
    m = re.fullmatch(r"D:(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(Z|[+-]\d\d'?\d\d'?)?", pdf_date.strip())
    if m is None:
        raise ValueError(f"not a PDF date: {pdf_date!r}")
    year, month, day, hour, minute, second, zone = m.groups()
    if not zone or zone == "Z":
        offset = "Z"
    else:
        digits = zone.replace("'", "")
        offset = f"{digits[:3]}:{digits[3:5]}"
        if offset in ("+00:00", "-00:00"):
            offset = "+00:00"
    return f"{year}-{month}-{day}T{hour}:{minute}:{second}{offset}"


def xmp_packet(
    *,
    title: str,
    author: str,
    subject: str,
    keywords: str,
    creator: str,
    producer: str,
    created: str,
    modified: str,
) -> bytes:
    """The XMP metadata of a PDF/A-2b file whose Info dictionary holds the same values (dates as XMP dates)."""

    def text(value: str) -> str:
        return escape(value)

    body = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   <pdfaid:part>{PDFA_PART}</pdfaid:part>
   <pdfaid:conformance>{PDFA_CONFORMANCE}</pdfaid:conformance>
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{text(title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{text(author)}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{text(subject)}</rdf:li></rdf:Alt></dc:description>
   <pdf:Keywords>{text(keywords)}</pdf:Keywords>
   <pdf:Producer>{text(producer)}</pdf:Producer>
   <xmp:CreatorTool>{text(creator)}</xmp:CreatorTool>
   <xmp:CreateDate>{created}</xmp:CreateDate>
   <xmp:ModifyDate>{modified}</xmp:ModifyDate>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
    return body.encode("utf-8")


# --------------------------------------------------------------------------------------------------------------
# reportlab


class _UnfilteredStream(PDFStream):
    """A stream written as it is (the XMP packet must stay readable without decoding it, §6.6.2.1)."""

    def format(self, document: Any) -> bytes:
        dictionary = PDFDictionary(self.dictionary.dict.copy())
        content = document.encrypt.encode(self.content)
        dictionary["Length"] = len(content)
        return bytes(pdfdoc.format(dictionary, document)) + b"\nstream\n" + content + b"\nendstream\n"


class _Metadata(_UnfilteredStream):
    """The catalog's /Metadata: built when the file is written, from the Info dictionary as it is then."""

    def __init__(self) -> None:
        super().__init__(PDFDictionary({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}), b"")

    def format(self, document: Any) -> bytes:
        info = document.info
        stamp = pdfdoc.PDFDate(ts=document._timeStamp, dateFormatter=info._dateFormatter)
        date = xmp_date(stamp.format(document).decode("latin-1").strip("()"))
        self.content = xmp_packet(
            title=info.title,
            author=info.author,
            subject=info.subject,
            keywords=info.keywords,
            creator=info.creator,
            producer=info.producer,
            created=date,
            modified=date,
        )
        return super().format(document)


def _end_of_line_before_endstream() -> None:
    """reportlab writes ``…data endstream``; ISO 19005-2 §6.1.7.1 wants an EOL before ``endstream`` (not counted in
    /Length). Patched once, for every stream reportlab writes in this process."""
    original = PDFStream.format
    if getattr(original, "_pdfa", False):
        return

    def format(self: PDFStream, document: Any) -> bytes:
        out: bytes = original(self, document)
        # always: a last data byte that happens to be a line feed is counted in /Length, so it is no EOL marker
        if out.endswith(b"endstream\n"):
            out = out[: -len(b"endstream\n")] + b"\nendstream\n"
        return out

    format._pdfa = True  # type: ignore[attr-defined]
    PDFStream.format = format


_end_of_line_before_endstream()


def make_archival(c: Canvas) -> None:
    """Give a fresh reportlab canvas what PDF/A-2b needs (the XMP packet is made when the file is written)."""
    doc = c._doc
    profile = PDFStream(PDFDictionary({"N": 3}), srgb_profile())
    intent = PDFDictionary(
        {
            "Type": PDFName("OutputIntent"),
            "S": PDFName("GTS_PDFA1"),
            "OutputConditionIdentifier": PDFString(OUTPUT_CONDITION),
            "Info": PDFString(OUTPUT_CONDITION),
            "RegistryName": PDFString("http://www.color.org"),
            "DestOutputProfile": doc.Reference(profile),
        }
    )
    catalog = doc.Catalog
    catalog.OutputIntents = PDFArray([intent])
    # the catalog writes only the keys it knows: OutputIntents joins them for this document
    catalog.__NoDefault__ = [*type(catalog).__NoDefault__, "OutputIntents"]
    catalog.Metadata = _Metadata()


class ArchivalCanvas(Canvas):
    """A reportlab canvas whose file is PDF/A-2b (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        make_archival(self)


# --------------------------------------------------------------------------------------------------------------
# pyHanko's writer


def _pdf_date(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("D:%Y%m%d%H%M%S+00'00'")


def mark_writer(writer: Any, *, title: str, author: str, subject: str, moment: dt.datetime) -> None:
    """Make the file a ``pyhanko.pdf_utils.writer.PdfFileWriter`` will write PDF/A-2b's catalog and Info: the
    OutputIntent, the XMP packet and the Info dictionary it mirrors (the pages' content is the caller's business).

    The packet is a pyHanko ``MetadataStream``: pyHanko then updates it together with the Info dictionary on every
    write (ModDate, Producer), here and in each later incremental signature, so the two stay equal.
    """
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name, pdf_string
    from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream

    date = _pdf_date(moment)
    values = {
        "title": title,
        "author": author,
        "subject": subject,
        "keywords": "",
        "creator": "Motcua",
        "producer": "Motcua (pyHanko)",
    }
    info = generic.DictionaryObject(
        {
            pdf_name("/Title"): pdf_string(title),
            pdf_name("/Author"): pdf_string(author),
            pdf_name("/Subject"): pdf_string(subject),
            pdf_name("/Keywords"): pdf_string(""),
            pdf_name("/Creator"): pdf_string(values["creator"]),
            pdf_name("/Producer"): pdf_string(values["producer"]),
            pdf_name("/CreationDate"): pdf_string(date),
            pdf_name("/ModDate"): pdf_string(date),
        }
    )
    writer.set_info(info)
    metadata = MetadataStream(
        generic.DictionaryObject({pdf_name("/Type"): pdf_name("/Metadata"), pdf_name("/Subtype"): pdf_name("/XML")}),
        stream_data=xmp_packet(**values, created=xmp_date(date), modified=xmp_date(date)),
    )
    profile = generic.StreamObject(
        generic.DictionaryObject({pdf_name("/N"): generic.NumberObject(3)}), stream_data=srgb_profile()
    )
    profile.compress()
    intent = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/OutputIntent"),
            pdf_name("/S"): pdf_name("/GTS_PDFA1"),
            pdf_name("/OutputConditionIdentifier"): pdf_string(OUTPUT_CONDITION),
            pdf_name("/Info"): pdf_string(OUTPUT_CONDITION),
            pdf_name("/RegistryName"): pdf_string("http://www.color.org"),
            pdf_name("/DestOutputProfile"): writer.add_object(profile),
        }
    )
    writer.root[pdf_name("/Metadata")] = writer.add_object(metadata)
    writer.root[pdf_name("/OutputIntents")] = generic.ArrayObject([intent])
