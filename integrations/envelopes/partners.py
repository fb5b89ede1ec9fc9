"""The partner agencies of this installation: agencies hosted by another installation, where their exchange
endpoint is and who may sign for them (configuration: ``MOTCUA_EXCHANGE_PARTNERS_FILE``, a JSON file listing each
partner agency's exchange URL and the certificates that may sign for it), and the check of a partner's signature.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from dossiers.errors import InvalidInput
from integrations.envelopes.manifest import Refusal
from signing.certs import der
from signing.cms import CmsInvalid, agency_code_of, verify_detached


@dataclass(frozen=True)
class Partner:
    """An agency hosted by another installation: where its exchange endpoint is and who may sign for it."""

    agency: str
    url: str
    trust_roots: tuple[x509.Certificate, ...]
    certificates: tuple[x509.Certificate, ...] = ()  # pinned: when given, only these may sign for the agency
    name: str = ""
    tls_ca: str | None = None  # PEM file the partner's HTTPS certificate must chain to (default: system CAs)


def _pem_certificates(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"Không đọc được chứng thư số của cơ quan liên thông: {path}.",
            f"Cannot read the partner certificate file {path}: {exc}",
        ) from exc


class PartnerRegistry:
    """The partner agencies of this installation (``{"partners": [{"agency", "url", "trust_roots", …}]}``)."""

    def __init__(self, partners: Sequence[Partner] = ()) -> None:
        self.partners = {p.agency: p for p in partners}

    @classmethod
    def load(cls, path: Path) -> PartnerRegistry:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"Không đọc được tệp cấu hình cơ quan liên thông {path}.",
                f"Cannot read the exchange partners file {path}: {exc}",
            ) from exc
        items = raw.get("partners") if isinstance(raw, Mapping) else None
        if not isinstance(items, list):
            raise InvalidInput(
                "Tệp cấu hình liên thông phải có danh sách 'partners'.",
                f"The exchange partners file {path} needs a 'partners' list.",
            )
        base = path.parent
        partners = []
        for item in items:
            if not isinstance(item, Mapping) or not item.get("agency") or not item.get("url"):
                raise InvalidInput(
                    "Mỗi cơ quan liên thông cần 'agency' và 'url'.",
                    f"Every partner in {path} needs 'agency' and 'url': {item!r}",
                )
            roots = [c for f in item.get("trust_roots", []) for c in _pem_certificates(base / str(f))]
            if not roots:
                raise InvalidInput(
                    f"Cơ quan liên thông {item['agency']} chưa có chứng thư gốc tin cậy ('trust_roots').",
                    f"Partner {item['agency']} has no 'trust_roots': its signatures could not be checked.",
                )
            pinned = [c for f in item.get("certificates", []) for c in _pem_certificates(base / str(f))]
            tls_ca = str(base / str(item["tls_ca"])) if item.get("tls_ca") else None
            partners.append(
                Partner(
                    str(item["agency"]),
                    str(item["url"]),
                    tuple(roots),
                    tuple(pinned),
                    str(item.get("name", "")),
                    tls_ca,
                )
            )
        return cls(partners)

    def get(self, agency: str) -> Partner | None:
        return self.partners.get(agency)

    def is_remote(self, agency: str) -> bool:
        return agency in self.partners

    @property
    def remote_agencies(self) -> frozenset[str]:
        return frozenset(self.partners)


def check_partner_signature(
    data: bytes, signature: bytes, partner: Partner, agency: str, at: dt.datetime
) -> dt.datetime | None:
    """The signature over ``data`` holds, chains to the partner's roots at ``at`` and names ``agency`` (the unit
    code in the certificate's serialNumber, or a pinned certificate). Returns the signing time; raises Refusal."""
    try:
        report = verify_detached(data, signature, list(partner.trust_roots), at=at)
    except CmsInvalid as exc:
        text = str(exc)
        if "expired" in text:
            raise Refusal(
                "certificate_expired",
                "Chứng thư số của cơ quan gửi đã hết hạn hoặc chưa có hiệu lực tại thời điểm ký.",
                f"The sender's certificate was not valid at the signing time: {text}.",
            ) from exc
        if "trusted authority" in text or "not trusted" in text or "revoked" in text:
            raise Refusal(
                "untrusted_certificate",
                "Chữ ký không do tổ chức chứng thực tin cậy của cơ quan gửi cấp.",
                f"The signature does not chain to the sender's trusted roots: {text}.",
            ) from exc
        raise Refusal(
            "bad_signature",
            "Chữ ký số trên phong bì không hợp lệ: nội dung đã bị thay đổi hoặc chữ ký hỏng.",
            f"The envelope's signature does not hold: {text}.",
        ) from exc
    cert = report.signer_certificate
    if partner.certificates:
        pinned = {der(c) for c in partner.certificates}
        if der(cert) not in pinned:
            raise Refusal(
                "foreign_certificate",
                f"Chứng thư số ký phong bì không phải chứng thư đã đăng ký của cơ quan {agency}.",
                f"The envelope is signed with a certificate not registered for agency {agency}.",
            )
    elif agency_code_of(cert) != agency:
        raise Refusal(
            "foreign_certificate",
            f"Chứng thư số ký phong bì không thuộc cơ quan {agency}.",
            f"The envelope is signed by {report.signer_common_name} ({agency_code_of(cert)}), not by {agency}.",
        )
    return report.timestamp_time or report.signing_time
