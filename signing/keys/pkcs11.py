"""Agency seals on a PKCS#11 token or HSM (SoftHSM2 in tests), through pyHanko's
:class:`~pyhanko.sign.pkcs11.PKCS11Signer`.

One session is opened on first use and shared; every call into the PKCS#11 module goes through one lock (a PKCS#11
session must not run two operations at once). Errors are explicit (:mod:`signing.api`): module not loadable, token
absent, wrong PIN (never retried automatically — a token locks its PIN after a few failures), key or certificate
label missing, key not matching its certificate.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from pyhanko.sign import signers
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from dossiers.errors import InvalidInput, MotcuaError, NotFound
from signing._async import run_sync
from signing.api import (
    AGENCY_PREFIX,
    KeyNotOnToken,
    TokenAbsent,
    TokenLoginFailed,
    TokenUnavailable,
    parse_key_id,
    server_agency_code,
)
from signing.certs import issuer_chain, to_asn1, to_crypto

if TYPE_CHECKING:
    from pyhanko.sign.pkcs11 import PKCS11Signer

ENV_PKCS11_MODULE = "MOTCUA_PKCS11_MODULE"  # path of the PKCS#11 module (.so), e.g. /usr/lib/softhsm/libsofthsm2.so
ENV_PKCS11_TOKEN = "MOTCUA_PKCS11_TOKEN"  # token label
ENV_PKCS11_PIN = "MOTCUA_PKCS11_PIN"  # user PIN
ENV_PKCS11_KEYS = "MOTCUA_PKCS11_KEYS"  # JSON object: agency code → label of its key and certificate on the token
PKCS11_ENV = (ENV_PKCS11_MODULE, ENV_PKCS11_TOKEN, ENV_PKCS11_PIN, ENV_PKCS11_KEYS)


class _LockedObject:
    """A python-pkcs11 object whose calls into the module hold the provider's lock."""

    def __init__(self, obj: Any, provider: Pkcs11Keys) -> None:
        self._obj = obj
        self._provider = provider

    def __getitem__(self, attribute: Any) -> Any:
        with self._provider._lock:
            return self._provider._guard(lambda: self._obj[attribute])

    def sign(self, data: bytes, **kwargs: Any) -> bytes:
        with self._provider._lock:
            return self._provider._guard(lambda: self._obj.sign(data, **kwargs))  # type: ignore[no-any-return]


class _LockedSession:
    """What :class:`~pyhanko.sign.pkcs11.PKCS11Signer` needs of a session, serialised by the provider's lock.

    A PKCS#11 session runs one operation at a time (an object search or a signature); signatures made in
    several threads (pyHanko signs in an executor thread) would otherwise interleave on the shared session."""

    def __init__(self, session: Any, provider: Pkcs11Keys) -> None:
        self._session = session
        self._provider = provider

    def get_objects(self, attrs: Mapping[Any, Any] | None = None) -> Iterator[_LockedObject]:
        with self._provider._lock:
            found = self._provider._guard(lambda: list(self._session.get_objects(attrs)))
        return iter([_LockedObject(obj, self._provider) for obj in found])


class Pkcs11Keys:
    """:class:`~signing.api.KeyProvider` over a PKCS#11 token (an HSM in production, SoftHSM2 in tests).

    ``key_labels`` maps an agency code to the label of its private key and certificate on the token (the two
    objects share the label). Issuer certificates come from ``ca_certs`` and from the certificates on the token.
    Nothing touches the module before the first :meth:`signer_for`; the session is then kept open until
    :meth:`close`. Use the provider in the process that signs (open it after a server forks its workers)."""

    def __init__(
        self,
        module_path: str,
        token_label: str,
        pin: str,
        key_labels: Mapping[str, str],
        *,
        ca_certs: Iterable[x509.Certificate] = (),
        prefer_pss: bool = False,
    ) -> None:
        missing = [
            name
            for name, value in (
                (ENV_PKCS11_MODULE, module_path),
                (ENV_PKCS11_TOKEN, token_label),
                (ENV_PKCS11_PIN, pin),
            )
            if not value
        ]
        if missing:
            raise InvalidInput(
                f"Thiếu cấu hình PKCS#11: {', '.join(missing)}.",
                f"PKCS#11 configuration is incomplete: {', '.join(missing)} missing.",
                missing=missing,
            )
        self.module_path = str(module_path)
        self.token_label = token_label
        self._pin = pin
        self.key_labels = _check_key_labels(key_labels)
        self.ca_certs = tuple(ca_certs)
        self.prefer_pss = prefer_pss
        self._lock = threading.RLock()
        self._session: Any = None
        self._signers: dict[str, PKCS11Signer] = {}
        self._chains: dict[str, tuple[x509.Certificate, ...]] = {}
        self._token_certs: list[x509.Certificate] | None = None
        self._login_failure: TokenLoginFailed | None = None
        self.sessions_opened = 0

    def __repr__(self) -> str:  # never the PIN
        return f"Pkcs11Keys(module={self.module_path!r}, token={self.token_label!r}, keys={dict(self.key_labels)!r})"

    def __enter__(self) -> Pkcs11Keys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the port

    def signer_for(self, key_id: str) -> signers.Signer:
        return self._entry(key_id)[0]

    def chain_for(self, key_id: str) -> list[x509.Certificate]:
        return list(self._entry(key_id)[1])

    def close(self) -> None:
        """Close the session (logging out). A later :meth:`signer_for` opens a new one."""
        with self._lock:
            session, self._session = self._session, None
            self._forget_objects()
            if session is not None:
                with contextlib.suppress(Exception):
                    session.close()

    # ------------------------------------------------------------------ internals

    def _code(self, key_id: str) -> str:
        code = server_agency_code(key_id)
        if code not in self.key_labels:
            raise NotFound(
                f"Cơ quan '{code}' không có khóa ký trên thiết bị PKCS#11 '{self.token_label}' "
                f"(cấu hình {ENV_PKCS11_KEYS}).",
                f"Agency '{code}' has no signing key on PKCS#11 token '{self.token_label}' "
                f"(configured in {ENV_PKCS11_KEYS}).",
                key_id=key_id,
            )
        return code

    def _forget_objects(self) -> None:
        self._signers.clear()
        self._chains.clear()
        self._token_certs = None

    def _guard(self, call: Any) -> Any:
        """Run ``call`` (a python-pkcs11 operation); turn a lost device or session into :class:`TokenAbsent`
        and drop the session, so the next signature opens a new one."""
        import pkcs11.exceptions as p11

        try:
            return call()
        except (p11.DeviceRemoved, p11.TokenNotPresent, p11.SessionClosed, p11.SessionHandleInvalid) as exc:
            self._session = None
            self._forget_objects()
            raise TokenAbsent(
                f"Mất kết nối tới thiết bị PKCS#11 '{self.token_label}' ({type(exc).__name__}); "
                "lần ký sau sẽ mở lại phiên.",
                f"Lost the PKCS#11 token '{self.token_label}' ({type(exc).__name__}); "
                "the next signature opens a new session.",
                token=self.token_label,
            ) from exc
        except (p11.DeviceError, p11.DeviceMemory, p11.GeneralError, p11.UserNotLoggedIn) as exc:
            self._session = None
            self._forget_objects()
            raise TokenUnavailable(
                f"Thiết bị PKCS#11 '{self.token_label}' báo lỗi ({type(exc).__name__}).",
                f"The PKCS#11 token '{self.token_label}' failed ({type(exc).__name__}: {exc}).",
                token=self.token_label,
            ) from exc
        except p11.PKCS11Error as exc:  # e.g. an unsupported mechanism: the session itself is still usable
            raise TokenUnavailable(
                f"Thiết bị PKCS#11 '{self.token_label}' từ chối thao tác ({type(exc).__name__}).",
                f"The PKCS#11 token '{self.token_label}' refused the operation ({type(exc).__name__}: {exc}).",
                token=self.token_label,
            ) from exc

    def _open(self) -> Any:
        """The shared session, opened and logged in on first use. Call with the lock held."""
        if self._login_failure is not None:
            raise self._login_failure
        if self._session is not None:
            return self._session
        try:
            import pkcs11
            import pkcs11.exceptions as p11
            from pyhanko.config.pkcs11 import TokenCriteria
            from pyhanko.sign.pkcs11 import open_pkcs11_session
        except ImportError as exc:  # pragma: no cover - python-pkcs11 is a dependency
            raise TokenUnavailable(
                "Thiếu thư viện python-pkcs11.", "python-pkcs11 is not installed (pyHanko[pkcs11]).", cause=str(exc)
            ) from exc
        try:
            lib = pkcs11.lib(self.module_path)
        except (p11.PKCS11Error, OSError) as exc:
            raise TokenUnavailable(
                f"Không nạp được mô-đun PKCS#11 '{self.module_path}'.",
                f"Cannot load the PKCS#11 module '{self.module_path}': {exc}",
                module=self.module_path,
            ) from exc
        present = self._token_labels(lib)
        if self.token_label not in present:
            listed = ", ".join(repr(label) for label in present) or "none"
            raise TokenAbsent(
                f"Không thấy thiết bị ký PKCS#11 có nhãn '{self.token_label}' (đang có: {listed}).",
                f"No PKCS#11 token labelled '{self.token_label}' is present (present: {listed}).",
                token=self.token_label,
                present=present,
            )
        try:
            session = open_pkcs11_session(
                self.module_path, token_criteria=TokenCriteria(label=self.token_label), user_pin=self._pin
            )
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange, p11.PinLocked, p11.PinExpired) as exc:
            reason_vi, reason_en = {
                "PinLocked": ("mã PIN đã bị khóa", "the PIN is locked"),
                "PinExpired": ("mã PIN đã hết hạn", "the PIN has expired"),
            }.get(type(exc).__name__, ("sai mã PIN", "wrong PIN"))
            self._login_failure = TokenLoginFailed(
                f"Không đăng nhập được thiết bị PKCS#11 '{self.token_label}': {reason_vi}. Không thử lại mã PIN này "
                f"(thiết bị sẽ khóa sau vài lần sai); sửa {ENV_PKCS11_PIN} rồi khởi động lại.",
                f"Cannot log in to PKCS#11 token '{self.token_label}': {reason_en}. This PIN is not tried again "
                f"(tokens lock after a few failures); fix {ENV_PKCS11_PIN} and restart.",
                token=self.token_label,
                reason=type(exc).__name__,
            )
            raise self._login_failure from exc
        except (p11.TokenNotPresent, p11.DeviceRemoved, p11.NoSuchToken) as exc:
            raise TokenAbsent(
                f"Thiết bị ký PKCS#11 '{self.token_label}' không còn kết nối.",
                f"The PKCS#11 token '{self.token_label}' is not present.",
                token=self.token_label,
            ) from exc
        except p11.PKCS11Error as exc:
            raise TokenUnavailable(
                f"Không mở được phiên làm việc với thiết bị PKCS#11 '{self.token_label}'.",
                f"Cannot open a session on PKCS#11 token '{self.token_label}': {type(exc).__name__}: {exc}",
                token=self.token_label,
            ) from exc
        self._session = session
        self.sessions_opened += 1
        return session

    @staticmethod
    def _token_labels(lib: Any) -> list[str]:
        import pkcs11.exceptions as p11

        labels = []
        for slot in lib.get_slots(token_present=True):
            try:
                labels.append(str(slot.get_token().label))
            except (p11.TokenNotPresent, p11.TokenNotRecognised):
                continue
        return labels

    def _entry(self, key_id: str) -> tuple[PKCS11Signer, tuple[x509.Certificate, ...]]:
        code = self._code(key_id)
        with self._lock:
            if code in self._signers:
                return self._signers[code], self._chains[code]
            signer, chain = self._prepare(code, key_id)
        # The check signs through the session proxies, which take the lock in pyHanko's executor thread:
        # it must run without holding the lock.
        self._self_test(signer, chain[0], key_id)
        with self._lock:
            self._signers.setdefault(code, signer)
            self._chains.setdefault(code, chain)
            return self._signers[code], self._chains[code]

    def _prepare(self, code: str, key_id: str) -> tuple[PKCS11Signer, tuple[x509.Certificate, ...]]:
        """Find the key and certificate labelled for ``code`` and load them into a signer. Lock held."""
        from pkcs11 import Attribute, ObjectClass
        from pyhanko.sign.pkcs11 import PKCS11Signer

        session = _LockedSession(self._open(), self)
        label = self.key_labels[code]
        certificates: list[_LockedObject] = []
        for object_class, what_vi, what_en in (
            (ObjectClass.CERTIFICATE, "chứng thư số", "certificate"),
            (ObjectClass.PRIVATE_KEY, "khóa bí mật", "private key"),
        ):
            found = list(session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label}))
            if len(found) != 1:
                count_vi = "không có" if not found else f"có {len(found)}"
                count_en = "no" if not found else f"{len(found)}"
                raise KeyNotOnToken(
                    f"Thiết bị PKCS#11 '{self.token_label}' {count_vi} {what_vi} mang nhãn '{label}' "
                    f"(khóa '{key_id}'); cần đúng một.",
                    f"PKCS#11 token '{self.token_label}' has {count_en} {what_en} labelled '{label}' "
                    f"(key '{key_id}'); exactly one is needed.",
                    key_id=key_id,
                    label=label,
                    token=self.token_label,
                )
            if object_class == ObjectClass.CERTIFICATE:
                certificates = found
        leaf = to_crypto(bytes(certificates[0][Attribute.VALUE]))
        issuers = self._issuers(session, leaf)
        signer = PKCS11Signer(
            session,  # type: ignore[arg-type]
            signing_cert=to_asn1(leaf),
            key_label=label,
            ca_chain=[to_asn1(cert) for cert in issuers],
            prefer_pss=self.prefer_pss,
            use_raw_mechanism=self._raw_ecdsa(leaf),
        )
        try:
            signer.signing_cert  # noqa: B018 - loads the key handle now (synchronously, in this thread)
        except MotcuaError:
            raise
        except Exception as exc:  # noqa: BLE001 - python-pkcs11/pyHanko errors, reported with the key id
            raise TokenUnavailable(
                f"Không dùng được khóa '{key_id}' trên thiết bị PKCS#11 '{self.token_label}'.",
                f"Cannot use key '{key_id}' on PKCS#11 token '{self.token_label}': {type(exc).__name__}: {exc}",
                key_id=key_id,
                token=self.token_label,
            ) from exc
        return signer, (leaf, *issuers)

    def _raw_ecdsa(self, leaf: x509.Certificate) -> bool:
        """Whether an EC key must sign with the raw ``CKM_ECDSA`` (pyHanko hashes first): SoftHSM2 and several
        HSMs offer no hash-and-sign ECDSA mechanism. Lock held."""
        from pkcs11 import Mechanism

        if not isinstance(leaf.public_key(), ec.EllipticCurvePublicKey):
            return False
        mechanisms = self._guard(lambda: set(self._session.token.slot.get_mechanisms()))
        return Mechanism.ECDSA_SHA256 not in mechanisms

    def _issuers(self, session: _LockedSession, leaf: x509.Certificate) -> list[x509.Certificate]:
        """Issuers of ``leaf``, nearest first, from ``ca_certs`` and the token's certificates."""
        from pkcs11 import Attribute, ObjectClass

        if self._token_certs is None:
            objects = session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
            self._token_certs = [to_crypto(bytes(obj[Attribute.VALUE])) for obj in objects]
        return issuer_chain(leaf, [*self.ca_certs, *self._token_certs])

    def _self_test(self, signer: PKCS11Signer, leaf: x509.Certificate, key_id: str) -> None:
        """Sign a fixed message once and verify it with the certificate: a key that does not match its
        certificate would otherwise produce signatures that every verifier rejects."""
        message = b"motcua pkcs11 key check"
        try:
            signature = run_sync(lambda: signer.async_sign_raw(message, "sha256"))
        except MotcuaError:
            raise
        except Exception as exc:  # noqa: BLE001 - unsupported mechanism, device error, …
            raise TokenUnavailable(
                f"Không ký thử được bằng khóa '{key_id}' trên thiết bị PKCS#11 '{self.token_label}'.",
                f"Test signature with key '{key_id}' on PKCS#11 token '{self.token_label}' failed: "
                f"{type(exc).__name__}: {exc}",
                key_id=key_id,
            ) from exc
        mechanism = signer.get_signature_mechanism_for_digest("sha256")
        if not verify_raw(leaf, mechanism, message, signature, "sha256"):
            label = self.key_labels[server_agency_code(key_id)]
            raise KeyNotOnToken(
                f"Khóa bí mật '{label}' trên thiết bị không khớp với chứng thư số của '{key_id}'.",
                f"The private key labelled '{label}' on the token does not match the certificate of '{key_id}'.",
                key_id=key_id,
                label=label,
            )


def verify_raw(cert: x509.Certificate, mechanism: Any, data: bytes, signature: bytes, digest_algorithm: str) -> bool:
    """Whether ``signature`` (as pyHanko's raw signature for ``mechanism``) verifies with ``cert``'s key."""
    key = cert.public_key()
    algorithm = mechanism.signature_algo
    try:
        if algorithm == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        elif algorithm == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            pss, hash_algorithm = process_pss_params(mechanism["parameters"])
            key.verify(signature, data, pss, hash_algorithm)
        elif algorithm == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _check_key_labels(key_labels: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(key_labels, Mapping) or not key_labels:
        raise InvalidInput(
            f"{ENV_PKCS11_KEYS} phải là một đối tượng JSON không rỗng: mã cơ quan → nhãn khóa.",
            f"{ENV_PKCS11_KEYS} must be a non-empty JSON object: agency code → key label.",
        )
    checked: dict[str, str] = {}
    for code, label in key_labels.items():
        valid_code = isinstance(code, str)
        if valid_code:
            try:
                parse_key_id(f"{AGENCY_PREFIX}{code}")
            except NotFound:
                valid_code = False
        if not valid_code or not isinstance(label, str) or not label:
            raise InvalidInput(
                f"{ENV_PKCS11_KEYS}: mục '{code}' → '{label}' không hợp lệ (cần mã cơ quan → nhãn khóa không rỗng).",
                f"{ENV_PKCS11_KEYS}: entry {code!r} → {label!r} is invalid (agency code → non-empty key label).",
                code=str(code),
            )
        checked[code] = label
    return checked
