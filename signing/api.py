"""What the rest of the system programs against for server-side keys (DESIGN §7 "Whose key signs where").

* key ids: ``agency:<code>`` (an agency seal) and ``person:<username>`` (an official), :func:`parse_key_id`;
* :class:`KeyProvider` — turns a key id into a pyHanko :class:`~pyhanko.sign.signers.Signer` and the certificate
  chain behind it. Only an agency seal ever signs on the server: :func:`server_agency_code` refuses
  ``person:<username>`` with :class:`PersonKeyRefused`, because a person's key never enters the server —
  personal signatures are made on the signer's device (USB token) or by a remote-signing service, and the server
  only embeds the value (:mod:`signing.two_step`, :mod:`signing.keys.csc`);
* the errors a provider raises beyond :mod:`dossiers.errors`' own.

The implementations, one module each: :mod:`signing.keys.pkcs12` (the development PKI's files),
:mod:`signing.keys.pkcs11` (an HSM or SoftHSM2), :mod:`signing.keys.csc` (a CSC remote-signing service, for
personal signatures); :func:`signing.keys.loader.load_key_provider` picks the server's provider from settings.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from pyhanko.sign import signers

from dossiers.errors import Forbidden, NotFound, Unavailable

AGENCY_PREFIX = "agency:"
PERSON_PREFIX = "person:"

AGENCY_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,63}$")
USERNAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._\-]{0,63}$")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


# ---------------------------------------------------------------------- errors


class PersonKeyRefused(Forbidden):
    code = "motcua.signing.person_key_on_server"


class TokenUnavailable(Unavailable):
    """The PKCS#11 module cannot be used (not loadable, session lost, device error)."""

    code = "motcua.signing.token_unavailable"


class TokenAbsent(TokenUnavailable):
    code = "motcua.signing.token_absent"


class TokenLoginFailed(TokenUnavailable):
    """Wrong, locked or expired PIN. Remembered: the provider does not try the same PIN again."""

    code = "motcua.signing.token_login_failed"


class KeyNotOnToken(NotFound):
    code = "motcua.signing.key_not_on_token"


# ---------------------------------------------------------------------- key ids


def parse_key_id(key_id: str) -> tuple[str, str]:
    """Split ``agency:<code>`` / ``person:<username>`` into (kind, name); raise :class:`NotFound` otherwise."""
    for prefix, pattern in ((AGENCY_PREFIX, AGENCY_CODE), (PERSON_PREFIX, USERNAME)):
        if key_id.startswith(prefix):
            name = key_id[len(prefix) :]
            if pattern.match(name) and ".." not in name:
                return prefix[:-1], name
    raise NotFound(
        f"Không có khóa ký nào mang định danh '{key_id}' (dạng hợp lệ: agency:<mã cơ quan>, person:<tên đăng nhập>).",
        f"No signing key with id '{key_id}' (valid forms: agency:<agency code>, person:<username>).",
        key_id=key_id,
    )


def server_agency_code(key_id: str) -> str:
    """The agency code of an ``agency:<code>`` key id.

    :class:`~dossiers.errors.Forbidden` for ``person:<username>`` (a person's key never enters the server),
    :class:`~dossiers.errors.NotFound` for anything that is not a key id."""
    kind, name = parse_key_id(key_id)
    if kind != AGENCY_PREFIX[:-1]:
        raise PersonKeyRefused(
            f"Không ký bằng khóa '{key_id}' trên máy chủ: khóa của cá nhân không bao giờ được đưa lên máy chủ; "
            "chữ ký cá nhân được tạo trên thiết bị của người ký (hoặc dịch vụ ký từ xa).",
            f"Refusing to sign with '{key_id}' on the server: a person's key never enters the server; personal "
            "signatures are made on the signer's device (or by a remote-signing service).",
            key_id=key_id,
        )
    return name


# ---------------------------------------------------------------------- the port


@runtime_checkable
class KeyProvider(Protocol):
    """Server-side keys: ``agency:<code>`` only (see the module docstring)."""

    def signer_for(self, key_id: str) -> signers.Signer:
        """A pyHanko signer for ``key_id``, reusable and safe to share between threads."""
        ...

    def chain_for(self, key_id: str) -> list[x509.Certificate]:
        """The signing certificate of ``key_id`` followed by its issuers (leaf first)."""
        ...
