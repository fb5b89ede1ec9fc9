"""Signature validation as configured: trusted roots, local revocation data, online fetching or not."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography import x509

from dossiers.errors import InvalidInput, MotcuaError, NotFound
from dossiers.model import Person
from signing.ades import AdesValidator, report_to_dict
from signing.pki import CRL_NAMES, DevelopmentPki

if TYPE_CHECKING:
    from services.shop import OneStopShop

PDF = "application/pdf"


class TrustSettings(Protocol):
    """What validation needs of the settings (``motcua.settings.Settings`` has it)."""

    trust_roots: str
    environment: str
    pki_dir: Path
    key_passphrase: str
    verify_allow_fetching: bool


def configured_roots(settings: TrustSettings | None, extra: list[Path] | None = None) -> list[x509.Certificate]:
    """The roots listed in ``MOTCUA_TRUST_ROOTS`` (none when ``settings`` is None) and the ``extra`` files."""
    roots: list[x509.Certificate] = []
    listed = settings.trust_roots.split(",") if settings is not None else []
    paths = [Path(p.strip()) for p in listed if p.strip()] + list(extra or [])
    for path in paths:
        try:
            roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"Không đọc được chứng thư gốc tin cậy '{path}'.", f"Cannot read trusted root '{path}': {exc}"
            ) from exc
    return roots


def validator_for(
    settings: TrustSettings, extra_roots: list[Path] | None = None, *, only_extra: bool = False
) -> AdesValidator:
    """Trusted: the configured roots plus the development PKI's root outside production, whose CRLs are local
    revocation data. ``only_extra``: only ``extra_roots`` and what the file carries (its DSS) — nothing of this
    installation, so the result is what anyone holding the file and those roots gets (`motcua verify --trust`)."""
    if only_extra:
        return AdesValidator(configured_roots(None, extra_roots), allow_fetching=settings.verify_allow_fetching)
    pki = DevelopmentPki(settings.pki_dir, settings.key_passphrase)
    roots = configured_roots(settings, extra_roots)
    if settings.environment != "production":
        roots += pki.trust_roots()
    return AdesValidator(roots, allow_fetching=settings.verify_allow_fetching, crls=pki.crls())


def published_crl(pki: DevelopmentPki, name: str) -> bytes:
    """The current CRL of the development PKI's CA ``name`` (``root`` or ``agency-ca``), DER, as `motcua serve`
    publishes it at the address its certificates name; :class:`NotFound` for another name or a PKI without it."""
    path = pki.crl_path(name) if name in CRL_NAMES else None
    if path is None or not path.is_file():
        raise NotFound("Không có danh sách thu hồi này.", "No such certificate revocation list.", name=name)
    return path.read_bytes()


class RecordedVerification:
    """Checks of signed PDFs with the configured validator, built on first use (it reads the trust roots and the
    development CRLs); every check is recorded as ``signature.verified``."""

    def __init__(self, shop: OneStopShop, settings: TrustSettings, validator: AdesValidator | None = None) -> None:
        self.shop = shop
        self.settings = settings
        self._validator: AdesValidator | None = validator  # None: built on first use

    def report(self, pdf: bytes) -> dict[str, Any]:
        if self._validator is None:
            self._validator = validator_for(self.settings)
        return dict(report_to_dict(self._validator.report(pdf)))

    def verify_file(self, actor: str, filename: str, pdf: bytes, **how: Any) -> dict[str, Any]:
        """An uploaded PDF, neither stored nor linked to a dossier."""
        report = self.report(pdf)
        self.shop.record("signature.verified", actor, None, filename=filename, indication=report["indication"], **how)
        return report

    def verify_document(
        self, person: Person, code: str, document_id: str, *, tolerant: bool = False, **how: Any
    ) -> tuple[Any, dict[str, Any]]:
        """A stored document of the dossier, read as ``OneStopShop.open_document`` reads it (authorized and
        recorded as ``document.read``). Not a PDF: InvalidInput. ``tolerant``: a PDF that cannot be checked gets
        an INDETERMINATE / FORMAT_FAILURE report instead of the error (a dossier's trail shows every document)."""
        row, stream = self.shop.open_document(person, code, document_id)
        if not tolerant and row.content_type != PDF:
            raise InvalidInput("Tài liệu không phải PDF.", "The document is not a PDF.")
        try:
            report = self.report(b"".join(stream))
        except MotcuaError as exc:
            if not tolerant:
                raise
            report = {"indication": "INDETERMINATE", "sub_indication": "FORMAT_FAILURE", "error": str(exc)}
        self.shop.record(
            "signature.verified", person.username, code, document_id=document_id, indication=report["indication"], **how
        )
        return row, report
