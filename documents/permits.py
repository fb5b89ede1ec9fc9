"""Result documents of the construction and land procedures, as PDF (reportlab, embedded Noto Serif).

- :func:`render_construction_permit` — Giấy phép xây dựng (nhà ở riêng lẻ), the result of the construction
  permit procedure; signed by the leader (certifying), numbered by the clerk, sealed by the commune.
- :func:`render_inspection_record` — Biên bản kiểm tra hiện trạng (the site inspection record made before
  the review of a construction permit); sealed by the agency.
- :func:`render_tax_notice` — Thông báo nộp tiền (the tax office's notice of the land user's financial
  obligations in the joint land procedure); sealed by the tax office.
- :func:`render_land_certificate` — Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất
  (first certificate); signed by the competent authority, numbered, sealed.

Laid out like the Circular 01/2018 forms of :mod:`documents.forms` (:func:`documents.layout.render_form`: same
fonts, same fixed signature area :data:`documents.layout.SIGNATURE_BOX`), so the signing code places signatures,
number and date fields the same way. The layouts follow the structure of the official forms (Decree 175/2024
appendix for the permit, Decree 101/2024 for the certificate) but are simplified renderings, not the official
security paper. Pure functions: a frozen dataclass in, deterministic PDF bytes out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from documents.layout import (
    ITEM,
    SIGNATURE_BOX,
    Form,
    Signer,
    amount_in_words,
    escape_text,
    format_vnd,
    long_date,
    para,
    register_fonts,
    render_form,
    short_date,
    time_of_day,
    upper,
)

__all__ = [
    "InspectionRecordData",
    "LandCertificateData",
    "PermitData",
    "TaxNoticeData",
    "render_construction_permit",
    "render_inspection_record",
    "render_land_certificate",
    "render_tax_notice",
]


def _need(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, str) and not value.strip():
            raise ValueError(f"{type(obj).__name__}.{name} is empty")


@dataclass(frozen=True)
class PermitData:
    parent_agency: str  # "Ủy ban nhân dân xã Hòa An"
    issuing_authority: str  # the department that drafts it: "Phòng Kinh tế"
    place_name: str
    permit_code: str  # derived from the dossier: "GPXD-<dossier code>"
    owner_name: str
    owner_id_number: str
    construction_address: str
    parcel_number: str
    map_sheet: str
    land_certificate: str
    building_area_m2: int
    total_floor_area_m2: int
    floors: int
    height_m: str
    inspected_on: dt.datetime
    issued_at: dt.datetime
    signer_name: str
    signer_title: str = "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH"
    designer: str | None = None
    valid_months: int = 12  # the permit lapses if works do not start within 12 months (Law on Construction)

    def __post_init__(self) -> None:
        _need(self, "parent_agency", "permit_code", "owner_name", "construction_address", "signer_name")


def render_construction_permit(data: PermitData) -> bytes:
    register_fonts()
    body = [
        para(
            f"1. Cấp cho: <b>{escape_text(upper(data.owner_name))}</b>; "
            f"số định danh cá nhân: {escape_text(data.owner_id_number)}"
        ),
        para("2. Được phép xây dựng công trình: nhà ở riêng lẻ"),
        para(f"- Theo thiết kế do: {escape_text(data.designer or 'chủ đầu tư tự thiết kế')} lập", ITEM),
        para(
            f"- Vị trí xây dựng: thửa đất số {escape_text(data.parcel_number)}, "
            f"tờ bản đồ số {escape_text(data.map_sheet)}",
            ITEM,
        ),
        para(f"- Địa chỉ: {escape_text(data.construction_address)}", ITEM),
        para(f"- Giấy tờ về quyền sử dụng đất: {escape_text(data.land_certificate)}", ITEM),
        para(f"- Diện tích xây dựng tầng 1 (tầng trệt): {data.building_area_m2} m²", ITEM),
        para(f"- Tổng diện tích sàn: {data.total_floor_area_m2} m²", ITEM),
        para(f"- Chiều cao công trình: {escape_text(data.height_m)} m; số tầng: {data.floors}", ITEM),
        para(f"3. Đã kiểm tra thực địa ngày {short_date(data.inspected_on.date())} (biên bản kèm theo hồ sơ)."),
        para(
            f"4. Giấy phép có hiệu lực khởi công xây dựng trong thời hạn {data.valid_months} tháng kể từ ngày "
            "cấp; quá thời hạn trên thì phải đề nghị gia hạn giấy phép xây dựng."
        ),
        para(
            "5. Chủ đầu tư phải thông báo ngày khởi công cho cơ quan quản lý xây dựng tại địa phương và thực "
            "hiện đúng nội dung giấy phép."
        ),
    ]
    form = Form(
        parent_agency=data.parent_agency,
        agency=data.issuing_authority,
        number=None,
        place_name=data.place_name,
        dated=data.issued_at,
        title="GIẤY PHÉP XÂY DỰNG",
        subtitles=(f"Mã giấy phép: {data.permit_code}", "(Sử dụng cho nhà ở riêng lẻ)"),
        body=body,
        signers=(Signer(data.signer_title, None, data.signer_name, SIGNATURE_BOX.center_x),),
        subject=data.permit_code,
    )
    return render_form(form)


@dataclass(frozen=True)
class InspectionRecordData:
    parent_agency: str
    agency_name: str  # the inspecting department
    place_name: str
    dossier_code: str
    owner_name: str
    construction_address: str
    parcel_number: str
    map_sheet: str
    inspected_at: dt.datetime
    inspector_name: str
    findings: str
    conclusion: str = "Hiện trạng khu đất phù hợp với hồ sơ đề nghị cấp giấy phép xây dựng."

    def __post_init__(self) -> None:
        _need(self, "dossier_code", "inspector_name", "findings")


def render_inspection_record(data: InspectionRecordData) -> bytes:
    register_fonts()
    body = [
        para(
            f"Hôm nay, vào lúc {time_of_day(data.inspected_at)} {long_date(data.inspected_at)}, tại "
            f"{escape_text(data.construction_address)} (thửa đất số {escape_text(data.parcel_number)}, tờ bản đồ số "
            f"{escape_text(data.map_sheet)}), chúng tôi gồm:"
        ),
        para(f"- Cán bộ kiểm tra: <b>{escape_text(data.inspector_name)}</b>, {escape_text(data.agency_name)}", ITEM),
        para(f"- Chủ đầu tư: <b>{escape_text(data.owner_name)}</b>", ITEM),
        para(
            "Đã kiểm tra hiện trạng khu đất đề nghị cấp giấy phép xây dựng "
            f"(hồ sơ số {escape_text(data.dossier_code)})."
        ),
        para("<b>Kết quả kiểm tra:</b>"),
        para(escape_text(data.findings), ITEM),
        para("<b>Kết luận:</b>"),
        para(escape_text(data.conclusion), ITEM),
        para("Biên bản được lập thành bản điện tử, có chữ ký số của cơ quan và lưu trong hồ sơ."),
    ]
    form = Form(
        parent_agency=data.parent_agency,
        agency=data.agency_name,
        number=None,
        place_name=data.place_name,
        dated=data.inspected_at,
        title="BIÊN BẢN KIỂM TRA HIỆN TRẠNG",
        subtitles=("(Kiểm tra thực địa phục vụ cấp giấy phép xây dựng)",),
        body=body,
        signers=(Signer("CÁN BỘ KIỂM TRA", None, data.inspector_name, SIGNATURE_BOX.center_x),),
        subject=f"Biên bản kiểm tra hiện trạng {data.dossier_code}",
    )
    return render_form(form)


@dataclass(frozen=True)
class TaxNoticeData:
    agency_name: str  # "Thuế cơ sở 1 tỉnh Demo"
    parent_agency: str | None
    place_name: str
    dossier_code: str
    taxpayer_name: str
    taxpayer_id_number: str
    land_address: str
    parcel_number: str
    map_sheet: str
    area_m2: int
    registration_fee_vnd: int
    issued_at: dt.datetime
    official_name: str
    assessment: str = ""  # the tax officer's note (exemptions, land use fee, …)
    pay_within_days: int = 30

    def __post_init__(self) -> None:
        _need(self, "agency_name", "dossier_code", "taxpayer_name")
        if self.registration_fee_vnd < 0:
            raise ValueError("TaxNoticeData.registration_fee_vnd is negative")


def render_tax_notice(data: TaxNoticeData) -> bytes:
    register_fonts()
    body = [
        para(
            f"Căn cứ Phiếu chuyển thông tin địa chính của hồ sơ số {escape_text(data.dossier_code)}, cơ quan thuế "
            "thông báo nghĩa vụ tài chính về đất đai như sau:"
        ),
        para(
            f"1. Người nộp: <b>{escape_text(data.taxpayer_name)}</b>; "
            f"số định danh cá nhân: {escape_text(data.taxpayer_id_number)}"
        ),
        para(
            f"2. Thửa đất số {escape_text(data.parcel_number)}, tờ bản đồ số {escape_text(data.map_sheet)}, diện tích "
            f"{data.area_m2} m²; địa chỉ: {escape_text(data.land_address)}"
        ),
        para(f"3. Lệ phí trước bạ phải nộp: <b>{format_vnd(data.registration_fee_vnd)}</b>"),
        para(f"Bằng chữ: {amount_in_words(data.registration_fee_vnd)} đồng", ITEM),
    ]
    if data.assessment:
        body.append(para(f"4. Ghi chú của cơ quan thuế: {escape_text(data.assessment)}"))
    body.append(
        para(
            f"Thời hạn nộp: trong {data.pay_within_days} ngày kể từ ngày ký thông báo, tại ngân hàng thương mại, "
            "kho bạc nhà nước hoặc qua Cổng Dịch vụ công quốc gia."
        )
    )
    form = Form(
        parent_agency=data.parent_agency,
        agency=data.agency_name,
        number=None,
        place_name=data.place_name,
        dated=data.issued_at,
        title="THÔNG BÁO NỘP TIỀN",
        subtitles=("(Nghĩa vụ tài chính về đất đai)",),
        body=body,
        signers=(Signer("CÁN BỘ THUẾ", None, data.official_name, SIGNATURE_BOX.center_x),),
        subject=f"Thông báo nộp tiền {data.dossier_code}",
    )
    return render_form(form)


@dataclass(frozen=True)
class LandCertificateData:
    parent_agency: str  # "Ủy ban nhân dân xã Hòa An" (the competent authority)
    place_name: str
    certificate_code: str  # derived from the dossier: "GCN-<dossier code>"
    holder_name: str
    holder_id_number: str
    land_address: str
    parcel_number: str
    map_sheet: str
    area_m2: int
    land_use_purpose: str
    land_origin: str
    use_term: str
    issued_at: dt.datetime
    signer_name: str
    signer_title: str = "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH"
    prepared_by: str | None = None  # the land registration office branch that prepared it

    def __post_init__(self) -> None:
        _need(self, "parent_agency", "certificate_code", "holder_name", "land_address", "signer_name")


def render_land_certificate(data: LandCertificateData) -> bytes:
    register_fonts()
    body = [
        para("<b>1. Người sử dụng đất, chủ sở hữu tài sản gắn liền với đất:</b>"),
        para(
            f"Ông/Bà: <b>{escape_text(upper(data.holder_name))}</b>; "
            f"số định danh cá nhân: {escape_text(data.holder_id_number)}",
            ITEM,
        ),
        para("<b>2. Thông tin thửa đất:</b>"),
        para(f"a) Thửa đất số: {escape_text(data.parcel_number)}; tờ bản đồ số: {escape_text(data.map_sheet)}", ITEM),
        para(f"b) Địa chỉ: {escape_text(data.land_address)}", ITEM),
        para(f"c) Diện tích: {data.area_m2} m²; hình thức sử dụng: sử dụng riêng", ITEM),
        para(f"d) Mục đích sử dụng: {escape_text(data.land_use_purpose)}", ITEM),
        para(f"đ) Thời hạn sử dụng: {escape_text(data.use_term)}", ITEM),
        para(f"e) Nguồn gốc sử dụng: {escape_text(data.land_origin)}", ITEM),
        para("<b>3. Tài sản gắn liền với đất:</b> không đăng ký."),
        para("<b>4. Ghi chú:</b> Giấy chứng nhận cấp lần đầu."),
    ]
    if data.prepared_by:
        body.append(
            para(f"Hồ sơ do {escape_text(data.prepared_by)} kiểm tra, chuẩn bị và cập nhật vào cơ sở dữ liệu đất đai.")
        )
    form = Form(
        parent_agency=None,
        agency=data.parent_agency,
        number=None,
        place_name=data.place_name,
        dated=data.issued_at,
        title="GIẤY CHỨNG NHẬN QUYỀN SỬ DỤNG ĐẤT, QUYỀN SỞ HỮU TÀI SẢN GẮN LIỀN VỚI ĐẤT",
        subtitles=(f"Mã giấy chứng nhận: {data.certificate_code}",),
        body=body,
        signers=(Signer(data.signer_title, None, data.signer_name, SIGNATURE_BOX.center_x),),
        subject=data.certificate_code,
    )
    return render_form(form)
