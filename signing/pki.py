"""A development PKI made with ``cryptography``: root CA → agency CA → agency and personal certificates.

Only for development, tests and the embedded default (DESIGN §7): production keys live in PKCS#11 tokens
and remote-signing services, and trust roots come from configuration.

Layout under ``root_dir``::

    ca/root.pem              root certificate (PEM)
    ca/root.p12              root key + certificate (encrypted PKCS#12, mode 0600)
    ca/agency-ca.pem         intermediate "Motcua Development Agency CA" certificate (PEM)
    ca/agency-ca.p12         its key (encrypted PKCS#12, mode 0600)
    agency/<code>.p12        one organization certificate per agency (key id ``agency:<code>``)
    person/<username>.p12    one personal certificate per official (key id ``person:<username>``)

Every PKCS#12 file is encrypted with the passphrase given to :class:`DevelopmentPki` (PBES2, AES-256-CBC,
SHA-256 MAC) and carries the chain (agency CA, root) next to the leaf. No private key is ever written
unencrypted. ``root_dir`` and every directory in it are 0700 whatever the umask (nobody else may list, add or
swap a file), key files 0600. :meth:`DevelopmentPki.ensure` only creates what is missing, so running it again
keeps every key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dossiers.errors import InvalidInput, NotFound
from signing.api import AGENCY_CODE, AGENCY_PREFIX, PERSON_PREFIX, USERNAME, parse_key_id

DEVELOPMENT_PASSPHRASE = "motcua-development-only"  # noqa: S105 - the embedded default's well-known passphrase

ROOT_CA_NAME = "Motcua Development Root CA"
AGENCY_CA_NAME = "Motcua Development Agency CA"
PKI_ORGANIZATION = "Motcua (development only)"

ROOT_VALIDITY = dt.timedelta(days=20 * 365)
CRL_VALIDITY = dt.timedelta(days=400)
CRL_RENEW_BEFORE = dt.timedelta(days=30)
LEAF_VALIDITY = dt.timedelta(days=5 * 365)
BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock differences between signer and verifier

# Certificates name a CRL distribution point under the installation's public PKI address (MOTCUA_PKI_PUBLIC_URL),
# where `motcua serve` publishes the CRLs (api/pki_routes.py): leaves point to agency-ca.crl, the agency CA (created
# since issue 19) to root.crl. The server's own signatures embed these CRLs (signing.ltv.Evidence), so no verifier
# needs the address; an online one may fetch it. A PKI made before keeps the addresses its certificates carry (the
# old, never-resolving http://crl.motcua.invalid/): its documents still validate from the embedded CRLs, and each
# certificate issued from then on carries the configured address. Together with the extended key usage below the
# distribution point also works around poppler 22.12 (Debian 12), which reads NSS's thread error code instead of
# CERT_PKIXVerifyCert's result: without both extensions a stale SEC_ERROR_EXTENSION_NOT_FOUND from the last
# extension lookup makes ``pdfsig -no-ocsp`` print "Unknown issue with Certificate or corrupted data." for a
# perfectly valid chain.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000/pki/"
CRL_NAMES = ("root", "agency-ca")
# RFC 9336 id-kp-documentSigning, plus emailProtection, which NSS (and so poppler) requires for signer certificates.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class KeyMaterial:
    """What a signer needs: the encrypted PKCS#12 data, its passphrase, the leaf and the chain above it."""

    key_id: str
    pkcs12_data: bytes = field(repr=False)
    passphrase: bytes = field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # issuers, nearest first, ending with the root


def open_pkcs12(
    data: bytes, passphrase: bytes, key_id: str
) -> tuple[PrivateKeyTypes | None, x509.Certificate | None, list[x509.Certificate]]:
    """Decrypt the PKCS#12 file of ``key_id``: its key, certificate and the other certificates it carries.
    :class:`InvalidInput` when the passphrase is wrong or the file damaged."""
    try:
        return pkcs12.load_key_and_certificates(data, passphrase)
    except ValueError as exc:
        raise InvalidInput(
            f"Không mở được khóa ký '{key_id}' (sai mật khẩu hoặc tệp hỏng).",
            f"Could not open signing key '{key_id}' (wrong passphrase or damaged file).",
            key_id=key_id,
        ) from exc


class DevelopmentPki:
    """A file-based development PKI; see the module docstring for the layout."""

    def __init__(
        self, root_dir: Path, passphrase: str | bytes = DEVELOPMENT_PASSPHRASE, *, public_url: str = DEFAULT_PUBLIC_URL
    ) -> None:
        self.root_dir = Path(root_dir)
        self.public_url = public_url if public_url.endswith("/") else public_url + "/"
        self._passphrase = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
        if not self._passphrase:
            raise InvalidInput(
                "Cần một mật khẩu để mã hóa khóa bí mật.",
                "A passphrase is needed to encrypt private keys.",
            )

    # ------------------------------------------------------------------ paths

    @property
    def root_cert_path(self) -> Path:
        return self.root_dir / "ca" / "root.pem"

    @property
    def agency_ca_cert_path(self) -> Path:
        return self.root_dir / "ca" / "agency-ca.pem"

    def _ca_key_path(self, name: str) -> Path:
        return self.root_dir / "ca" / f"{name}.p12"

    def pkcs12_path(self, key_id: str) -> Path:
        kind, name = parse_key_id(key_id)
        return self.root_dir / kind / f"{name}.p12"

    # ------------------------------------------------------------------ queries

    def trust_roots(self) -> list[x509.Certificate]:
        """The root certificate(s) a validator should trust for signatures made with this PKI."""
        if not self.root_cert_path.exists():
            return []
        return [x509.load_pem_x509_certificate(self.root_cert_path.read_bytes())]

    def newest_validity_start(self) -> dt.datetime | None:
        """The latest not-before of the certificates published here (CAs, agencies, officials; None when there is
        none): a simulated clock must not start before it, or every signature would be "not valid yet"."""
        found: list[dt.datetime] = []
        for path in [
            *self.root_dir.glob("ca/*.pem"),
            *self.root_dir.glob("agency/*.pem"),
            *self.root_dir.glob("person/*.pem"),
        ]:
            with contextlib.suppress(OSError, ValueError):
                found += [cert.not_valid_before_utc for cert in x509.load_pem_x509_certificates(path.read_bytes())]
        return max(found, default=None)

    def has_key(self, key_id: str) -> bool:
        try:
            return self.pkcs12_path(key_id).exists()
        except NotFound:
            return False

    def key_ids(self) -> list[str]:
        found = [f"{AGENCY_PREFIX}{p.stem}" for p in sorted((self.root_dir / "agency").glob("*.p12"))]
        found += [f"{PERSON_PREFIX}{p.stem}" for p in sorted((self.root_dir / "person").glob("*.p12"))]
        return found

    def key_material(self, key_id: str) -> KeyMaterial:
        """The encrypted PKCS#12 data for ``key_id``; :class:`NotFound` when this PKI has no such key."""
        path = self.pkcs12_path(key_id)
        if not path.exists():
            raise NotFound(
                f"Không tìm thấy khóa ký '{key_id}' trong hạ tầng khóa phát triển.",
                f"Signing key '{key_id}' was not found in the development PKI.",
                key_id=key_id,
            )
        data = path.read_bytes()
        _, cert, extra = open_pkcs12(data, self._passphrase, key_id)
        if cert is None:
            raise InvalidInput(
                f"Tệp khóa '{key_id}' không có chứng thư số.",
                f"Key file '{key_id}' holds no certificate.",
                key_id=key_id,
            )
        return KeyMaterial(key_id, data, self._passphrase, cert, tuple(extra))

    def certificate(self, key_id: str) -> x509.Certificate:
        return self.key_material(key_id).certificate

    def chain_for(self, key_id: str) -> list[x509.Certificate]:
        """The certificate of ``key_id`` followed by its issuers up to and including the root."""
        material = self.key_material(key_id)
        return [material.certificate, *material.chain]

    # ------------------------------------------------------------------ creation

    def ensure(
        self,
        agencies: Iterable[tuple[str, str]],
        officials: Iterable[tuple[str, str, str]],
        now: dt.datetime,
        *,
        also_valid_at: dt.datetime | None = None,
    ) -> None:
        """Create the CAs, ``(code, name)`` agency certificates and ``(username, full_name, agency_code)``
        personal certificates that do not exist yet; existing keys and certificates are never replaced.

        What is created is valid from ``now``, and at ``also_valid_at`` too when given: a demo on a simulated clock
        signs at simulated times while its results are verified at the real time, so its certificates must hold
        on both (:func:`motcua.app.ensure_keys`)."""
        if now.tzinfo is None or (also_valid_at is not None and also_valid_at.tzinfo is None):
            raise InvalidInput("Thời điểm phải có múi giờ.", "The time must be timezone-aware.")
        start, end = (now, now) if also_valid_at is None else (min(now, also_valid_at), max(now, also_valid_at))
        agencies = list(agencies)
        officials = list(officials)
        for code, _ in agencies:
            self._check_name(code, AGENCY_CODE, "agency code", "mã cơ quan")
        for username, _, _ in officials:
            self._check_name(username, USERNAME, "username", "tên đăng nhập")

        private_dir(self.root_dir)
        for directory in self.root_dir.iterdir():  # made by an earlier version, maybe under a loose umask
            if directory.is_dir() and not directory.is_symlink():
                private_dir(directory)
        root_key, root_cert = self._ensure_root(start, end)
        ca_key, ca_cert = self._ensure_agency_ca(root_key, root_cert, start, end)
        chain = [ca_cert, root_cert]
        self._ensure_crl("root", root_key, root_cert, start)
        self._ensure_crl("agency-ca", ca_key, ca_cert, start)

        for existing in [*(self.root_dir / "agency").glob("*.p12"), *(self.root_dir / "person").glob("*.p12")]:
            if not existing.with_suffix(".pem").exists():
                key_id = f"{existing.parent.name}:{existing.stem}"
                self._publish(existing.with_suffix(".pem"), self.certificate(key_id))
        agency_names = dict(agencies)
        issued = False
        for code, name in agencies:
            path = self.root_dir / "agency" / f"{code}.p12"
            if not path.exists():
                self._issue_leaf(path, _agency_subject(code, name), ca_key, chain, start, end + LEAF_VALIDITY)
                issued = True
        for username, full_name, agency_code in officials:
            path = self.root_dir / "person" / f"{username}.p12"
            if path.exists() or path.with_suffix(".pem").exists():  # a certificate an administrator registered stays
                continue
            agency_name = agency_names.get(agency_code) or self._existing_agency_name(agency_code)
            if agency_name is None:
                raise InvalidInput(
                    f"Cán bộ '{username}' thuộc cơ quan '{agency_code}' chưa có trong danh sách cơ quan.",
                    f"Official '{username}' belongs to agency '{agency_code}', which is not among the agencies.",
                    username=username,
                    agency_code=agency_code,
                )
            subject = _person_subject(username, full_name, agency_name)
            self._issue_leaf(path, subject, ca_key, chain, start, end + LEAF_VALIDITY)
            issued = True
        if issued:  # a CRL issued after every certificate it covers (validators check that order), never in the future
            self._ensure_crl("agency-ca", ca_key, ca_cert, min(start, dt.datetime.now(dt.UTC)), force=True)

    def issue(
        self,
        key_id: str,
        display_name: str,
        *,
        not_before: dt.datetime,
        not_after: dt.datetime,
        organization: str | None = None,
        replace: bool = False,
    ) -> x509.Certificate:
        """Issue one leaf with explicit validity (tests use it for expired or not-yet-valid certificates).

        ``display_name`` is the agency name or the official's full name; ``organization`` defaults to it.
        The CAs must exist (call :meth:`ensure` first). An existing key is kept unless ``replace``."""
        kind, name = parse_key_id(key_id)
        path = self.root_dir / kind / f"{name}.p12"
        if path.exists() and not replace:
            raise InvalidInput(f"Khóa '{key_id}' đã tồn tại.", f"Key '{key_id}' already exists.", key_id=key_id)
        if not self.root_cert_path.exists() or not self.agency_ca_cert_path.exists():
            raise NotFound(
                "Chưa tạo CA phát triển; hãy chạy ensure() trước.",
                "The development CAs do not exist yet; run ensure() first.",
            )
        ca_key, ca_cert = self._load_ca("agency-ca", self.agency_ca_cert_path)
        _, root_cert = self._load_ca("root", self.root_cert_path)
        if kind == "agency":
            subject = _agency_subject(name, display_name)
        else:
            subject = _person_subject(name, display_name, organization or display_name)
        cert = self._issue_leaf(path, subject, ca_key, [ca_cert, root_cert], not_before, not_after, replace=replace)
        self._ensure_crl("agency-ca", ca_key, ca_cert, dt.datetime.now(dt.UTC), force=True)
        return cert

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _check_name(value: str, pattern: re.Pattern[str], what_en: str, what_vi: str) -> None:
        if not pattern.match(value) or ".." in value:
            raise InvalidInput(
                f"{what_vi.capitalize()} '{value}' không hợp lệ cho tên tệp khóa.",
                f"The {what_en} '{value}' is not valid for a key file name.",
                value=value,
            )

    def _ensure_root(self, start: dt.datetime, end: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        if self.root_cert_path.exists():
            return self._load_ca("root", self.root_cert_path)
        if self.agency_ca_cert_path.exists() or any(self.root_dir.glob("*/*.p12")):
            raise InvalidInput(
                f"Thư mục PKI {self.root_dir} có khóa nhưng thiếu chứng thư gốc; không thể tạo lại an toàn.",
                f"The PKI directory {self.root_dir} holds keys but no root certificate; refusing to recreate it.",
            )
        key = ec.generate_private_key(ec.SECP256R1())
        name = _ca_name(ROOT_CA_NAME)
        cert = _ca_certificate(name, key, name, key, start - BACKDATE, end + ROOT_VALIDITY, path_length=1)
        self._save_ca("root", key, cert, self.root_cert_path)
        return key, cert

    def _ensure_agency_ca(
        self, root_key: ec.EllipticCurvePrivateKey, root_cert: x509.Certificate, start: dt.datetime, end: dt.datetime
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        if self.agency_ca_cert_path.exists():
            return self._load_ca("agency-ca", self.agency_ca_cert_path)
        key = ec.generate_private_key(ec.SECP256R1())
        not_after = min(end + ROOT_VALIDITY, root_cert.not_valid_after_utc)
        subject = _ca_name(AGENCY_CA_NAME)
        cert = _ca_certificate(
            subject,
            key,
            root_cert.subject,
            root_key,
            start - BACKDATE,
            not_after,
            path_length=0,
            crl_url=self.crl_url("root"),
        )
        self._save_ca("agency-ca", key, cert, self.agency_ca_cert_path)
        return key, cert

    def _issue_leaf(
        self,
        path: Path,
        subject: x509.Name,
        ca_key: ec.EllipticCurvePrivateKey,
        chain: list[x509.Certificate],
        not_before: dt.datetime,
        not_after: dt.datetime,
        *,
        replace: bool = False,
    ) -> x509.Certificate:
        ca_cert = chain[0]
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(subject, ca_cert.subject, key.public_key(), not_before - BACKDATE, not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,  # nonRepudiation
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(self.crl_url("agency-ca"))], None, None, None
                        )
                    ]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        friendly = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert isinstance(friendly, str)
        data = pkcs12.serialize_key_and_certificates(friendly.encode(), key, cert, chain, self._encryption())
        _write_private(path, data, replace=replace)
        self._publish(path.with_suffix(".pem"), cert, replace=True)
        return cert

    # ------------------------------------------------------------------ revocation lists

    def crl_path(self, ca_name: str) -> Path:
        return self.root_dir / "ca" / f"{ca_name}.crl"

    def crl_url(self, ca_name: str) -> str:
        """Where ``motcua serve`` publishes the CRL of ``ca_name`` (what new certificates name)."""
        return f"{self.public_url}{ca_name}.crl"

    def crls(self) -> list[bytes]:
        """DER CRLs of the root (covering the agency CA) and of the agency CA (covering every leaf): what the
        server's signatures embed, and what ``motcua serve`` publishes under :attr:`public_url`."""
        return [p.read_bytes() for p in (self.crl_path("root"), self.crl_path("agency-ca")) if p.exists()]

    def _ensure_crl(
        self,
        name: str,
        key: ec.EllipticCurvePrivateKey,
        cert: x509.Certificate,
        now: dt.datetime,
        *,
        force: bool = False,
    ) -> None:
        """Issue (or renew when it expires within 30 days, or when ``force``) an empty CRL; nothing is revoked in
        development."""
        path = self.crl_path(name)
        if path.exists() and not force:
            crl = x509.load_der_x509_crl(path.read_bytes())
            next_update = crl.next_update_utc
            if next_update is not None and next_update - now > CRL_RENEW_BEFORE and crl.last_update_utc <= now:
                return
        this_update = now - BACKDATE
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(cert.subject)
            .last_update(this_update)
            .next_update(this_update + CRL_VALIDITY)
            .add_extension(x509.CRLNumber(int(this_update.timestamp())), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        tmp = path.with_suffix(".crl.tmp")
        tmp.write_bytes(crl.public_bytes(serialization.Encoding.DER))
        os.replace(tmp, path)

    @staticmethod
    def _publish(path: Path, cert: x509.Certificate, *, replace: bool = False) -> None:
        """The public certificate beside its key file: what a server may read without opening any key."""
        if path.exists() and not replace:
            return
        tmp = path.with_suffix(".pem.tmp")
        tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        os.replace(tmp, path)

    def public_chain(self, key_id: str) -> list[x509.Certificate]:
        """The signer's certificate and the issuers that validate it, from the published certificates only — never
        from a key file: the one place the server learns an official's chain to prepare a signature their device
        will make. A certificate this PKI issued is published alone (its agency CA and root follow); one an
        administrator registered (:meth:`publish_chain`) is published with its whole chain."""
        kind, name = parse_key_id(key_id)
        leaf = self.root_dir / kind / f"{name}.pem"
        if not leaf.exists():
            raise NotFound(
                f"Chưa có chứng thư số công khai của {'cán bộ' if kind == 'person' else 'cơ quan'} {name}: quản trị "
                "viên cần đăng ký chứng thư số (Quản trị → Chứng thư số), sau đó chạy lại bước (Quản trị → Sự cố).",
                f"No published certificate for '{key_id}': an administrator must register the certificate "
                "(Administration → Signing certificates), then retry the step (Administration → Incidents).",
                key_id=key_id,
            )
        published = x509.load_pem_x509_certificates(leaf.read_bytes())
        if len(published) > 1:
            return published
        return [
            published[0],
            x509.load_pem_x509_certificate(self.agency_ca_cert_path.read_bytes()),
            x509.load_pem_x509_certificate(self.root_cert_path.read_bytes()),
        ]

    def publish_chain(self, key_id: str, chain: list[x509.Certificate]) -> None:
        """Publish a certificate an administrator registered: the leaf first, then its issuers up to the trust root
        (what :meth:`public_chain` returns). Replaces what was published for ``key_id``; no key is involved."""
        kind, name = parse_key_id(key_id)
        if not chain:
            raise InvalidInput("Cần chứng thư số để đăng ký.", "A certificate is needed.", key_id=key_id)
        data = b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in chain)
        _write_public(self.root_dir / kind / f"{name}.pem", data)

    def _existing_agency_name(self, code: str) -> str | None:
        path = self.root_dir / "agency" / f"{code}.p12"
        if not path.exists():
            return None
        cert = self.certificate(f"{AGENCY_PREFIX}{code}")
        names = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        value = names[0].value if names else None
        return value if isinstance(value, str) else None

    def _encryption(self) -> serialization.KeySerializationEncryption:
        return (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(100_000)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(self._passphrase)
        )

    def _save_ca(self, name: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, pem_path: Path) -> None:
        data = pkcs12.serialize_key_and_certificates(name.encode(), key, cert, None, self._encryption())
        _write_private(self._ca_key_path(name), data)
        _write_public(pem_path, cert.public_bytes(serialization.Encoding.PEM))

    def _load_ca(self, name: str, pem_path: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        cert = x509.load_pem_x509_certificate(pem_path.read_bytes())
        try:
            key, _, _ = pkcs12.load_key_and_certificates(self._ca_key_path(name).read_bytes(), self._passphrase)
        except (ValueError, FileNotFoundError) as exc:
            raise InvalidInput(
                f"Không mở được khóa CA '{name}' (sai mật khẩu hoặc thiếu tệp).",
                f"Could not open the CA key '{name}' (wrong passphrase or missing file).",
                name=name,
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise InvalidInput(
                f"Khóa CA '{name}' không đúng loại.", f"The CA key '{name}' has an unexpected type.", name=name
            )
        return key, cert


# ---------------------------------------------------------------------- helpers


def _ca_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, PKI_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _agency_subject(code: str, name: str) -> x509.Name:
    """An organization certificate: CN and O are the agency name, serialNumber carries the agency code."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, code),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )


def _person_subject(username: str, full_name: str, agency_name: str) -> x509.Name:
    """A personal certificate: CN is the full name, UID the username, O the official's agency."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, agency_name),
            x509.NameAttribute(NameOID.USER_ID, username),
            x509.NameAttribute(NameOID.COMMON_NAME, full_name),
        ]
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _ca_certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    path_length: int,
    crl_url: str | None = None,
) -> x509.Certificate:
    """A CA certificate for ``key``, signed by ``issuer_key`` (the key itself for the root); ``crl_url``: where the
    issuer's CRL is published (none for the root)."""
    builder = (
        _builder(subject, issuer, key.public_key(), not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def private_dir(path: Path) -> None:
    """``path`` and any missing parents made 0700 whatever the umask; an existing one loses group and world
    access (``mkdir(mode=…, parents=True)`` gives parents the umask's mode, 0777 under umask 0)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
    for directory in missing or [path]:
        if os.stat(directory).st_mode & 0o077:
            with contextlib.suppress(PermissionError):  # another user's directory: not ours to change
                os.chmod(directory, 0o700)


def _write_private(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write ``data`` atomically with mode 0600 (directory 0700); never overwrite unless ``replace``."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile: never clobber a key
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_public(path: Path, data: bytes) -> None:
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
