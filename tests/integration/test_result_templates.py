"""A result template rendered to PDF (documents.result_templates), read back with pdftotext: the header with the
national motto, the title, the numbered paragraphs with the form data, the table, the Decree 30 signer block; a long
table moves to an annex; the fields the two-step signature and the seal fill can be created on it; the CLI preview
writes the same paper from the template's sample data and refuses a bad template naming its line and field."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from documents.result_templates import DATE_BOX, LEADER_BOX, NUMBER_BOX, load_template, render_result, sample_values
from motcua.cli import app as cli
from signing.appearance import seal_box
from signing.fields import prepare_fields
from tests.pdftools import pdftotext

SHIPPED = Path(__file__).resolve().parents[2] / "motcua" / "data" / "results" / "1.001612.json"


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_household_business_certificate_reads_as_its_form_data(tmp_path: Path) -> None:
    template = load_template(SHIPPED)
    values = sample_values(
        template,
        business_name="Quán cơm Thu Hà",
        business_address="Số 5, đường Lê Lợi, xã Hòa An",
        business_lines=["Nhà hàng và các dịch vụ ăn uống phục vụ lưu động"],
        capital_vnd=250_000_000,
        employees=None,
        applicant_name="Trần Thị Hà",
        signer_name="Lê Minh Tuấn",
    )
    pdf = render_result(template, values)
    text = flat(pdftotext(pdf, tmp_path))
    for expected in (
        "ỦY BAN NHÂN DÂN XÃ HÒA AN",
        "PHÒNG KINH TẾ",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH",
        "1. Tên hộ kinh doanh (ghi bằng chữ in hoa): QUÁN CƠM THU HÀ",
        "2. Địa chỉ trụ sở hộ kinh doanh: Số 5, đường Lê Lợi, xã Hòa An",
        "Nhà hàng và các dịch vụ ăn uống phục vụ lưu động",
        "4. Vốn kinh doanh: 250.000.000 đồng",
        "Bằng chữ: Hai trăm năm mươi triệu đồng",
        "5. Thông tin về chủ hộ kinh doanh:",  # no employees: the paragraph is left out, the numbering follows
        "TRẦN THỊ HÀ",
        "TM. ỦY BAN NHÂN DÂN CHỦ TỊCH",
        "Lê Minh Tuấn",
    ):
        assert expected in text, (expected, text)
    assert "Số lượng lao động" not in text
    assert "{" not in text  # every placeholder filled


def test_a_long_table_moves_to_an_annex(tmp_path: Path) -> None:
    template = load_template(SHIPPED)
    lines = [f"Ngành nghề kinh doanh thứ {i} có tên dài để danh sách không vừa trang đầu" for i in range(1, 41)]
    pdf = render_result(template, sample_values(template, business_lines=lines))
    pages = pdftotext(pdf, tmp_path).split("\f")
    assert "chi tiết tại Phụ lục kèm theo" in flat(pages[0])
    assert "thứ 40" not in pages[0]
    annex = flat(" ".join(pages[1:]))
    assert "PHỤ LỤC NGÀNH, NGHỀ KINH DOANH (Kèm theo Giấy chứng nhận đăng ký hộ kinh doanh, mã hồ sơ" in annex
    assert "thứ 1 có tên" in annex and "thứ 40 có tên" in annex


def test_the_signature_number_date_and_seal_fields_fit_the_result() -> None:
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    template = load_template(SHIPPED)
    pdf = prepare_fields(
        render_result(template, sample_values(template)),
        leader_box=LEADER_BOX,
        number_box=NUMBER_BOX,
        date_box=DATE_BOX,
        seal_box=seal_box(LEADER_BOX),
    )
    names = [name for name, _, _ in enumerate_sig_fields(PdfFileReader(io.BytesIO(pdf)))]
    assert names == ["leader_signature", "agency_seal"]


def test_the_cli_previews_a_procedures_template_and_refuses_a_bad_one(tmp_path: Path) -> None:
    out = tmp_path / "preview.pdf"
    run = CliRunner().invoke(cli, ["procedures", "preview", "1.001612", "--out", str(out)])
    assert run.exit_code == 0, run.output
    text = flat(pdftotext(out.read_bytes(), tmp_path))
    assert "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH" in text and "TẠP HÓA BÌNH AN" in text

    bad = json.loads(SHIPPED.read_text(encoding="utf-8"))
    bad["paragraphs"][1]["text"] = "Địa chỉ: {business_adress}"
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(bad, ensure_ascii=False, indent=2), encoding="utf-8")
    line = next(i for i, t in enumerate(draft.read_text(encoding="utf-8").splitlines(), 1) if "business_adress" in t)
    run = CliRunner().invoke(
        cli, ["procedures", "preview", "1.001612", "--out", str(tmp_path / "x.pdf"), "--template", str(draft)]
    )
    assert run.exit_code == 1
    assert f"dòng {line}, trường /paragraphs/1/text" in run.output
    assert "unknown placeholder {business_adress}" in run.output
    assert not (tmp_path / "x.pdf").exists()


def test_procedures_validate_refuses_a_bad_result_template_of_an_agency(tmp_path: Path) -> None:
    from motcua.app import result_template_problems
    from motcua.settings import Settings

    settings = Settings(var_dir=tmp_path / "var", catalogue_dir=tmp_path)
    assert result_template_problems(settings) == []  # the shipped template, against the procedure's form
    bad = json.loads(SHIPPED.read_text(encoding="utf-8"))
    bad["paragraphs"][0]["text"] = "Tên: {ten_ho}"  # not a field of the procedure's form
    (tmp_path / "results").mkdir()
    own = tmp_path / "results" / "1.001612.json"  # the agency's own template comes first
    own.write_text(json.dumps(bad, ensure_ascii=False, indent=2), encoding="utf-8")
    line = next(i for i, t in enumerate(own.read_text(encoding="utf-8").splitlines(), 1) if "{ten_ho}" in t)
    [problem] = result_template_problems(settings)
    assert problem.where == str(own)
    vi, en = problem.message.rsplit(" / ", 1)  # Vietnamese first: the catalogue page shows that part
    assert vi.startswith(f"thủ tục 1.001612: dòng {line}, trường /paragraphs/0/text: {{ten_ho}} không phải là dữ liệu")
    assert en.startswith(f"procedure 1.001612: line {line}, /paragraphs/0/text: unknown placeholder {{ten_ho}}")
