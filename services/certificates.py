"""Officials' signing certificates: registered by an administrator, checked first, published where the signature
preparation looks them up (:meth:`signing.pki.DevelopmentPki.public_chain`, the one place).

The server holds only public certificates (the keys stay on the officials' devices, DESIGN §7). A certificate is
registered only when it passes :func:`check_certificate`: it chains to one of the installation's trust roots (the
roots of ``MOTCUA_TRUST_ROOTS`` and, outside production, the development PKI's root — as ``motcua verify`` trusts
them), it is valid now, it is an end entity's and its key usage allows signing (digitalSignature or
nonRepudiation). Revocation is not checked here, as the validation of signatures does not check it yet
(signing/validate.py). A file that holds a private key (PKCS#12, a PEM ``PRIVATE KEY`` block) is refused and never
stored.

Who needs one: the leader, whose personal signature every result carries (``services.paperwork``,
``services.civil_status``, ``services.joint_work`` prepare it for ``person:<leader>``). A clerk numbers the result
and the *agency's* seal is applied by the server, so clerks sign nothing personally today; they may still have a
certificate registered, and outside production they get a development one like the leaders (``motcua init`` does
the same).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from dossiers.calendar import VN_TZ
from dossiers.errors import Conflict, InvalidInput, MotcuaError, NotFound
from dossiers.model import Person, Role
from services.accounts import Accounts
from services.verification import configured_roots
from signing.certs import check_key_type, issuer_chain, subject_of
from signing.pki import DevelopmentPki

log = structlog.get_logger(__name__)

MAX_CERTIFICATE_BYTES = 64 * 1024  # a certificate with its chain is a few KB
SIGNING_ROLES = frozenset({Role.LEADER})  # whose personal signature a result carries
CERTIFICATE_ROLES = frozenset({Role.LEADER, Role.CLERK})  # who may have one registered (and gets one in development)

KEY_USAGES: tuple[tuple[str, str, str], ...] = (
    ("digital_signature", "Chữ ký số", "Digital signature"),
    ("content_commitment", "Chống chối bỏ", "Non-repudiation"),
    ("key_encipherment", "Mã hóa khóa", "Key encipherment"),
    ("data_encipherment", "Mã hóa dữ liệu", "Data encipherment"),
    ("key_agreement", "Thỏa thuận khóa", "Key agreement"),
    ("key_cert_sign", "Ký chứng thư số", "Certificate signing"),
    ("crl_sign", "Ký danh sách thu hồi", "CRL signing"),
)

PRIVATE_KEY_REFUSED = (
    "Tệp tải lên có chứa khóa bí mật (tệp PKCS#12 .p12/.pfx hoặc khối PRIVATE KEY) nên bị từ chối và không được lưu. "
    "Khóa bí mật chỉ nằm trên thiết bị ký của cán bộ; hãy tải lên tệp chứng thư số (.cer, .crt, .pem) không kèm khóa.",
    "The file holds a private key (PKCS#12 .p12/.pfx or a PRIVATE KEY block): refused and not stored. A private key "
    "stays on the official's signing device; upload the certificate file (.cer, .crt, .pem) without the key.",
)


# ---------------------------------------------------------------------- reading an upload


def _der_pfx(data: bytes) -> bool:
    """A DER PKCS#12 (PFX): SEQUENCE { version INTEGER 3, authSafe ContentInfo … } — its first bytes say so."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    length = data[1]
    start = 2 if length < 0x80 else 2 + (length & 0x7F)
    return data[start : start + 4] == b"\x02\x01\x03\x30"


def holds_private_key(data: bytes) -> bool:
    """Whether ``data`` carries a private key: a PEM key block, a PKCS#12 file, or a DER private key (encrypted
    or not)."""
    if b"PRIVATE KEY-----" in data or _der_pfx(data):
        return True
    if data.lstrip().startswith(b"-----BEGIN"):
        return False
    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:
        return True  # an encrypted key: it asked for a password
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def read_certificates(data: bytes) -> list[x509.Certificate]:
    """The certificates of an uploaded file: PEM (one or more), DER, or a PKCS#7 bundle (.p7b). A file holding a
    private key is refused (:class:`InvalidInput`), as is anything that is not a certificate."""
    if not data.strip():
        raise InvalidInput("Tệp chứng thư số trống.", "The certificate file is empty.")
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise InvalidInput(
            f"Tệp chứng thư số quá lớn (tối đa {MAX_CERTIFICATE_BYTES // 1024} KB).",
            f"The certificate file is too large (at most {MAX_CERTIFICATE_BYTES // 1024} KB).",
        )
    if holds_private_key(data):
        raise InvalidInput(*PRIVATE_KEY_REFUSED, reason="private_key")
    loaders: list[Callable[[bytes], list[x509.Certificate]]]
    if data.lstrip().startswith(b"-----BEGIN"):
        loaders = [x509.load_pem_x509_certificates, pkcs7.load_pem_pkcs7_certificates]
    else:
        loaders = [lambda d: [x509.load_der_x509_certificate(d)], pkcs7.load_der_pkcs7_certificates]
    for loader in loaders:
        try:
            found = loader(data)
        except (ValueError, UnsupportedAlgorithm):
            continue
        if found:
            return found
    raise InvalidInput(
        "Không đọc được chứng thư số: hãy tải lên tệp chứng thư X.509 dạng PEM hoặc DER (.cer, .crt, .pem, .p7b).",
        "The certificate cannot be read: upload an X.509 certificate as PEM or DER (.cer, .crt, .pem, .p7b).",
        reason="unreadable",
    )


# ---------------------------------------------------------------------- the checks


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    found = name.get_attributes_for_oid(oid)
    return str(found[0].value) if found else ""


def name_text(name: x509.Name) -> str:
    """A name as a person reads it: the common name, then the organization (``Phạm Văn Hùng — UBND xã …``)."""
    parts = [_attribute(name, NameOID.COMMON_NAME), _attribute(name, NameOID.ORGANIZATION_NAME)]
    shown = " — ".join(p for p in parts if p)
    return shown or name.rfc4514_string()


def serial_text(serial: int) -> str:
    text = format(serial, "X")
    text = ("0" if len(text) % 2 else "") + text
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


def day_text(moment: dt.datetime) -> str:
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y")


@dataclass(frozen=True)
class CertificateCheck:
    """What an administrator reads about an uploaded certificate, and whether it may be registered."""

    subject: str
    subject_dn: str
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    key_usage: tuple[tuple[str, str], ...]
    sha256: str
    anchor: str | None  # the trust root the chain ends at
    problems: tuple[tuple[str, str], ...]
    chain: tuple[x509.Certificate, ...] = field(repr=False, default=())  # leaf, issuers, trust root

    @property
    def passed(self) -> bool:
        return not self.problems


def _validity_problems(cert: x509.Certificate, now: dt.datetime, what_vi: str, what_en: str) -> list[tuple[str, str]]:
    if now < cert.not_valid_before_utc:
        when = day_text(cert.not_valid_before_utc)
        return [(f"{what_vi} chưa có hiệu lực (từ ngày {when}).", f"{what_en} is not valid yet (from {when}).")]
    if now > cert.not_valid_after_utc:
        when = day_text(cert.not_valid_after_utc)
        return [(f"{what_vi} đã hết hạn (ngày {when}).", f"{what_en} has expired (on {when}).")]
    return []


def _path_problems(path: Sequence[x509.Certificate], now: dt.datetime) -> list[tuple[str, str]]:
    """The issuers on the path are CAs allowed to sign certificates this deep, valid now."""
    problems: list[tuple[str, str]] = []
    for depth, issuer in enumerate(path):
        shown = name_text(issuer.subject)
        usage = _key_usage(issuer)
        try:
            constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        limit = constraints.path_length if constraints is not None else None
        if constraints is None or not constraints.ca or (usage is not None and not usage.key_cert_sign):
            problems.append(
                (f"Chứng thư cấp trên {shown} không phải của tổ chức chứng thực.", f"Issuer {shown} is not a CA.")
            )
        elif limit is not None and depth > limit:
            problems.append(
                (f"Chuỗi chứng thư quá dài so với giới hạn của {shown}.", f"The chain is longer than {shown} allows.")
            )
        problems += _validity_problems(issuer, now, f"Chứng thư cấp trên {shown}", f"Issuer {shown}")
    return problems


def check_certificate(
    data: bytes,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    now: dt.datetime,
) -> CertificateCheck:
    """Check an uploaded certificate file against the trust ``roots`` (``intermediates``: known issuing CAs, added
    to those the file brings). Unreadable files and files with a private key raise :class:`InvalidInput`; every
    other shortcoming is a problem of the returned check."""
    certs = read_certificates(data)
    ends = [c for c in certs if not _is_ca(c)]
    if len(ends) > 1:
        raise InvalidInput(
            "Tệp có nhiều chứng thư của người ký; hãy tải lên chứng thư của một cán bộ (kèm chứng thư cấp trên "
            "nếu có).",
            "The file holds several end-entity certificates; upload one official's (with its issuers if needed).",
        )
    leaf = ends[0] if ends else certs[0]
    problems: list[tuple[str, str]] = []
    if _is_ca(leaf):
        problems.append(
            (
                "Đây là chứng thư của tổ chức chứng thực (CA), không phải chứng thư ký số của cán bộ.",
                "This is a certification authority's certificate, not an official's signing certificate.",
            )
        )
    try:
        check_key_type(leaf)
    except InvalidInput as exc:
        problems.append((exc.message_vi, exc.message_en))
    problems += _validity_problems(leaf, now, "Chứng thư số", "The certificate")
    usage = _key_usage(leaf)
    usages = tuple((vi, en) for attr, vi, en in KEY_USAGES if usage is not None and getattr(usage, attr))
    if usage is None or not (usage.digital_signature or usage.content_commitment):
        problems.append(
            (
                "Mục đích sử dụng khóa của chứng thư không cho phép ký số (cần Chữ ký số hoặc Chống chối bỏ).",
                "The key usage does not allow signing (digitalSignature or nonRepudiation is needed).",
            )
        )
    root_der = {r.public_bytes(serialization.Encoding.DER) for r in roots}
    issuers = issuer_chain(leaf, [*[c for c in certs if c is not leaf], *intermediates, *roots])
    anchored = next((i for i, c in enumerate(issuers) if c.public_bytes(serialization.Encoding.DER) in root_der), None)
    anchor = None
    if anchored is None:
        problems.append(
            (
                "Chứng thư số không do tổ chức chứng thực mà hệ thống tin cậy cấp: không lập được chuỗi chứng thư "
                "đến một chứng thư gốc tin cậy (thiếu chứng thư cấp trên hoặc gốc không được tin cậy).",
                "The certificate was not issued under a trusted root: no chain to a trusted root certificate "
                "(an issuer is missing or the root is not trusted).",
            )
        )
        chain: tuple[x509.Certificate, ...] = ()
    else:
        path = issuers[: anchored + 1]
        problems += _path_problems(path, now)
        anchor = name_text(path[-1].subject)
        chain = (leaf, *path)
    return CertificateCheck(
        subject=name_text(leaf.subject),
        subject_dn=subject_of(leaf),
        issuer=name_text(leaf.issuer),
        serial=serial_text(leaf.serial_number),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        key_usage=usages,
        sha256=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
        anchor=anchor,
        problems=tuple(problems),
        chain=chain,
    )


# ---------------------------------------------------------------------- an official's state


@dataclass(frozen=True)
class CertificateStatus:
    """Whether ``username`` has a published certificate valid now (``state``: valid, missing, expired,
    not_yet_valid)."""

    username: str
    state: str
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    subject: str = ""

    @property
    def valid(self) -> bool:
        return self.state == "valid"

    def reason(self) -> tuple[str, str]:
        if self.state == "expired" and self.not_after is not None:
            when = day_text(self.not_after)
            return (f"Chứng thư số của bạn đã hết hạn ngày {when}.", f"Your signing certificate expired on {when}.")
        if self.state == "not_yet_valid" and self.not_before is not None:
            when = day_text(self.not_before)
            return (
                f"Chứng thư số của bạn chưa có hiệu lực (từ ngày {when}).",
                f"Your signing certificate is not valid before {when}.",
            )
        return ("Bạn chưa có chứng thư số hợp lệ để ký kết quả.", "You have no valid certificate to sign results.")

    def notice(self) -> tuple[str, str]:
        """What the official reads on a step that leads to their signature."""
        vi, en = self.reason()
        return (
            f"{vi} Đề nghị quản trị viên đăng ký chứng thư số của bạn (Quản trị → Chứng thư số); sau đó bạn mới "
            "phê duyệt được bước dẫn đến chữ ký của mình. Bạn vẫn có thể trả hồ sơ để thẩm định lại.",
            f"{en} Ask an administrator to register your certificate (Administration → Signing certificates); "
            "until then you cannot approve a step that leads to your signature. You can still send it back.",
        )


class CertificateMissing(Conflict):
    code = "motcua.certificate_missing"


def signing_trust(settings: Any, pki: DevelopmentPki) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """(trust roots, known intermediate CAs) for officials' certificates: the configured roots and, outside
    production, the development PKI's root and agency CA — the same trust as signature validation
    (:func:`services.verification.validator_for`)."""
    roots = configured_roots(settings)
    intermediates: list[x509.Certificate] = []
    if settings.environment != "production":
        roots += pki.trust_roots()
        if pki.agency_ca_cert_path.exists():
            intermediates.append(x509.load_pem_x509_certificate(pki.agency_ca_cert_path.read_bytes()))
    return roots, intermediates


# ---------------------------------------------------------------------- the use cases


class SigningCertificates:
    """Officials' certificates: their state, the administrator's registration, the development auto-issue.

    ``trust`` gives (roots, intermediates) when a certificate is checked (read afresh: the files may change);
    ``record`` is the audit record; ``agency_name`` names an agency for a development certificate;
    ``auto_issue``: a leader or clerk saved gets a development certificate at once (never in production)."""

    def __init__(
        self,
        accounts: Accounts,
        pki: DevelopmentPki,
        clock: Any,
        record: Callable[..., None],
        trust: Callable[[], tuple[list[x509.Certificate], list[x509.Certificate]]],
        agency_name: Callable[[str], str],
        *,
        auto_issue: bool = False,
    ) -> None:
        self.accounts = accounts
        self.pki = pki
        self.clock = clock
        self.record = record
        self.trust = trust
        self.agency_name = agency_name
        self.auto_issue = auto_issue

    # ------------------------------------------------------------------ state

    def status(self, username: str) -> CertificateStatus:
        """Present and valid now? Read from the published certificates (:meth:`DevelopmentPki.public_chain`)."""
        try:
            leaf = self.pki.public_chain(f"person:{username}")[0]
        except (NotFound, ValueError, OSError):
            return CertificateStatus(username, "missing")
        now = self.clock.now()
        state = (
            "not_yet_valid"
            if now < leaf.not_valid_before_utc
            else "expired"
            if now > leaf.not_valid_after_utc
            else "valid"
        )
        return CertificateStatus(
            username, state, leaf.not_valid_before_utc, leaf.not_valid_after_utc, name_text(leaf.subject)
        )

    def require_valid(self, username: str) -> None:
        """:class:`CertificateMissing` (409) unless ``username`` has a valid certificate: a step that leads to
        their signature must not move on to fail at the preparation."""
        status = self.status(username)
        if status.valid:
            return
        vi, en = status.reason()
        raise CertificateMissing(
            f"Chưa thể phê duyệt: {vi} Đề nghị quản trị viên đăng ký chứng thư số của bạn (Quản trị → Chứng thư số), "
            "rồi phê duyệt lại; hồ sơ vẫn ở bước này.",
            f"Cannot approve yet: {en} Ask an administrator to register your certificate (Administration → Signing "
            "certificates), then approve again; the dossier stays at this step.",
            username=username,
            state=status.state,
        )

    def signers(self) -> list[tuple[Any, CertificateStatus]]:
        """Every active account that may have a certificate (leaders, clerks) with its state, by user name."""
        return [
            (row, self.status(row.username))
            for row in self.accounts.rows()
            if row.active and row.role in {r.value for r in CERTIFICATE_ROLES}
        ]

    def missing(self) -> list[tuple[Any, CertificateStatus]]:
        """The active officials who sign results (leaders) but have no valid certificate."""
        return [
            (row, status)
            for row, status in self.signers()
            if row.role in {r.value for r in SIGNING_ROLES} and not status.valid
        ]

    # ------------------------------------------------------------------ registration

    def check(self, data: bytes) -> CertificateCheck:
        roots, intermediates = self.trust()
        return check_certificate(data, roots, intermediates, self.clock.now())

    def registered(self, username: str) -> CertificateCheck | None:
        """The published certificate of ``username`` checked again (None: none published)."""
        try:
            chain = self.pki.public_chain(f"person:{username}")
        except (NotFound, ValueError, OSError):
            return None
        return self.check(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))

    def register(self, actor: str, username: str, data: bytes, **how: Any) -> CertificateCheck:
        """Check the uploaded certificate of ``username`` and, when it passes, publish it with its chain (recorded as
        ``admin.certificate_registered``). A failing certificate changes nothing; the check says why."""
        person = self.accounts.get(username)
        if person is None:
            raise NotFound(f"Không có tài khoản {username}.", f"No account {username}.", username=username)
        if person.role not in CERTIFICATE_ROLES:
            raise InvalidInput(
                "Chỉ đăng ký chứng thư số cho lãnh đạo và văn thư.",
                "Certificates are registered for leaders and clerks only.",
                username=username,
            )
        checked = self.check(data)
        if not checked.passed:
            return checked
        self.pki.publish_chain(f"person:{username}", list(checked.chain))
        self.record(
            "admin.certificate_registered",
            actor,
            username=username,
            subject=checked.subject_dn,
            serial=checked.serial,
            sha256=checked.sha256,
            not_after=checked.not_after.isoformat(),
            **how,
        )
        return checked

    # ------------------------------------------------------------------ development

    def person_saved(self, person: Person, actor: str = "system:pki") -> None:
        """Development: a leader or clerk gets a certificate of the development PKI at once (one already
        published is kept). A failure leaves the account saved and the official on the administrator's list."""
        if not self.auto_issue or person.role not in CERTIFICATE_ROLES or not person.agency_code:
            return
        if self.status(person.username).state != "missing":
            return
        try:
            agency = (person.agency_code, self.agency_name(person.agency_code))
            self.pki.ensure([agency], [(person.username, person.full_name, person.agency_code)], self.clock.now())
        except (MotcuaError, OSError, ValueError):
            log.warning("certificates.development_issue_failed", username=person.username, exc_info=True)
            return
        self.record("certificate.development_issued", actor, username=person.username)
