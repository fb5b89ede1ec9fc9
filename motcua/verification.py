"""Signature validation as configured: trusted roots, local revocation data, online fetching or not."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from dossiers.errors import InvalidInput
from motcua.settings import Settings
from signing.ades import AdesValidator
from signing.pki import DevelopmentPki


def configured_roots(settings: Settings, extra: list[Path] | None = None) -> list[x509.Certificate]:
    roots: list[x509.Certificate] = []
    paths = [Path(p.strip()) for p in settings.trust_roots.split(",") if p.strip()] + list(extra or [])
    for path in paths:
        try:
            roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"Không đọc được chứng thư gốc tin cậy '{path}'.", f"Cannot read trusted root '{path}': {exc}"
            ) from exc
    return roots


def validator_for(
    settings: Settings, extra_roots: list[Path] | None = None, *, only_extra: bool = False
) -> AdesValidator:
    """Trusted: the configured roots (or only ``extra_roots`` when ``only_extra``), plus the development PKI's root
    outside production. The development PKI's CRLs are local revocation data."""
    pki = DevelopmentPki(settings.pki_dir, settings.key_passphrase)
    if only_extra:
        roots = configured_roots(Settings(trust_roots=""), extra_roots)
    else:
        roots = configured_roots(settings, extra_roots)
        if settings.environment != "production":
            roots += pki.trust_roots()
    return AdesValidator(roots, allow_fetching=settings.verify_allow_fetching, crls=pki.crls())
