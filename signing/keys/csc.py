"""Personal signatures by a remote-signing service through the CSC API (the key stays in the service, DESIGN §7),
built on pyHanko's :class:`~pyhanko.sign.signers.csc_signer.CSCSigner`.

:func:`fetch_csc_credential` reads a credential's certificates and capabilities; :func:`sign_with_csc` signs a
field, asking for signature activation data bound to the hashes about to be signed (:class:`HashBoundAuthorization`)
and checking every value the service returns before it is embedded. PAdES B-B, with the same input checks as
:func:`signing.two_step.prepare`.
"""

from __future__ import annotations

import datetime as dt
import io

import aiohttp
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.csc_signer import (
    CSCAuthorizationInfo,
    CSCAuthorizationManager,
    CSCCredentialInfo,
    CSCServiceSessionInfo,
    CSCSigner,
    fetch_certs_in_csc_credential,
)
from pyhanko.stamp import BaseStampStyle

from dossiers.errors import InvalidInput, MotcuaError, Unavailable
from dossiers.ports import SignatureRequest
from signing._async import run_sync
from signing.certs import check_key_type, check_validity, load_certificate, to_crypto
from signing.pdf import PLACEHOLDER_STAMP, open_for_signature, placeholder_text, run_signing, signature_metadata
from signing.two_step import supported_digest, verify_signature_value

CSC_TIMEOUT_SECONDS = 60


class HashBoundAuthorization(CSCAuthorizationManager):
    """Asks ``credentials/authorize`` for signature activation data (SAD) bound to the hashes about to be signed
    (SCAL 2), with the user's PIN/OTP when the service wants them. One SAD per signing request."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        csc_session_info: CSCServiceSessionInfo,
        credential_info: CSCCredentialInfo,
        *,
        pin: str | None = None,
        otp: str | None = None,
        timeout: int = CSC_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(csc_session_info, credential_info)
        self._session = session
        self._pin = pin
        self._otp = otp
        self._timeout = timeout

    async def authorize_signature(self, hash_b64s: list[str]) -> CSCAuthorizationInfo:
        body = self.format_csc_auth_request(pin=self._pin, otp=self._otp, hash_b64s=hash_b64s)
        url = self.csc_session_info.endpoint_url("credentials/authorize")
        try:
            async with self._session.post(
                url,
                headers=self.auth_headers,
                json=body,
                raise_for_status=True,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                data = await response.json()
        except aiohttp.ClientError as exc:
            raise SigningError(f"Authorization request failed: {exc}") from exc
        return self.parse_csc_auth_response(data)


class _CheckingCSCSigner(CSCSigner):
    """A :class:`CSCSigner` that checks each signature value from the service before pyHanko embeds it, and keeps
    the service's error (pyHanko logs it and reports only "No signing results available")."""

    commit_error: SigningError | None = None

    async def commit(self) -> None:
        try:
            await super().commit()
        except SigningError as exc:
            self.commit_error = exc
            raise

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        value = await super().async_sign_raw(data, digest_algorithm, dry_run)
        if dry_run:
            return value
        assert self.signing_cert is not None
        cert = to_crypto(self.signing_cert)
        try:
            return verify_signature_value(cert, data, value, digest_algorithm)
        except InvalidInput as exc:
            raise InvalidInput(
                "Chữ ký số từ dịch vụ ký từ xa không khớp với bản tóm lược.",
                "The remote signing service's signature value does not match the digest.",
                reason="signature_mismatch",
            ) from exc


def fetch_csc_credential(
    session_info: CSCServiceSessionInfo, *, timeout: int = CSC_TIMEOUT_SECONDS
) -> CSCCredentialInfo:
    """The credential's certificates and capabilities (``credentials/info``); :class:`Unavailable` if unreachable."""

    async def fetch() -> CSCCredentialInfo:
        async with aiohttp.ClientSession() as session:
            return await fetch_certs_in_csc_credential(session, session_info, timeout=timeout)

    try:
        return run_sync(fetch)
    except SigningError as exc:
        raise _csc_error(exc, session_info) from exc


def sign_with_csc(
    pdf: bytes,
    request: SignatureRequest,
    session_info: CSCServiceSessionInfo,
    credential_info: CSCCredentialInfo,
    *,
    appearance: BaseStampStyle | None = None,
    md_algorithm: str = "sha256",
    now: dt.datetime | None = None,
    pin: str | None = None,
    otp: str | None = None,
    timeout: int = CSC_TIMEOUT_SECONDS,
) -> bytes:
    """Sign ``request.field_name`` through a CSC API service; the key never leaves the service.

    ``credential_info`` comes from :func:`fetch_csc_credential` (or pyHanko's ``fetch_certs_in_csc_credential``).
    The SAD is requested per signature, bound to its hash; ``pin``/``otp`` are passed on when given. Each returned
    value is checked against the credential's certificate before it is embedded. Same input checks as
    :func:`prepare`; :class:`~dossiers.errors.Unavailable` when the service cannot be reached.
    """
    md = supported_digest(md_algorithm)
    signer_cert = load_certificate(credential_info.signing_cert)
    check_key_type(signer_cert)
    check_validity(signer_cert, now)
    writer, _ = open_for_signature(pdf, request.field_name, certify=request.certify)
    text_params = placeholder_text(signer_cert, request.signer)

    async def sign() -> bytes:
        async with aiohttp.ClientSession() as session:
            auth = HashBoundAuthorization(session, session_info, credential_info, pin=pin, otp=otp, timeout=timeout)
            csc_signer = _CheckingCSCSigner(session, auth, sign_timeout=timeout)
            pdf_signer = signers.PdfSigner(
                signature_metadata(request, md),
                signer=csc_signer,
                stamp_style=appearance or PLACEHOLDER_STAMP,
                new_field_spec=fields.SigFieldSpec(request.field_name),
            )
            output = io.BytesIO()
            try:
                await pdf_signer.async_sign_pdf(writer, output=output, appearance_text_params=text_params)
            except SigningError as exc:
                if csc_signer.commit_error is not None:
                    raise _csc_error(csc_signer.commit_error, session_info) from exc
                raise
            return output.getvalue()

    return run_signing(sign, request.field_name)


def _csc_error(exc: SigningError, session_info: CSCServiceSessionInfo) -> MotcuaError:
    if isinstance(exc.__cause__, aiohttp.ClientConnectionError | TimeoutError):
        return Unavailable(
            "Không kết nối được dịch vụ ký số từ xa.",
            f"The remote signing service at {session_info.service_url} cannot be reached: {exc}",
            service_url=session_info.service_url,
        )
    return InvalidInput(
        f"Dịch vụ ký số từ xa từ chối yêu cầu: {exc}",
        f"The remote signing service refused the request: {exc} ({exc.__cause__ or 'no detail'})",
        service_url=session_info.service_url,
        credential_id=session_info.credential_id,
    )


__all__ = ["CSC_TIMEOUT_SECONDS", "HashBoundAuthorization", "fetch_csc_credential", "sign_with_csc"]
