"""OpenID Connect login (authorization code flow, confidential client) with Authlib.

Production agencies sign their officials in through the province's identity provider (Keycloak, the VNeID
bridge, …). Motcua is the relying party:

* discovery from ``<issuer>/.well-known/openid-configuration`` (the document's ``issuer`` must be the
  configured one exactly);
* an authorization URL with ``state``, ``nonce`` and PKCE (S256); the caller keeps the three secrets (the web
  layer in a short-lived signed cookie, api/web/oidc_routes.py);
* the code exchanged at the token endpoint (HTTP Basic client authentication, the PKCE verifier);
* the ID token validated: signature against the provider's JWKS (asymmetric algorithms only; the key set is
  fetched again once for an unknown ``kid``), ``iss``, ``aud``, ``azp``, ``exp``/``iat``, ``nonce``,
  ``at_hash``;
* the userinfo endpoint read with the access token, its ``sub`` checked against the ID token's;
* ``preferred_username`` mapped to an *existing, active* local account. Officials are never created here:
  an unknown username is refused (an administrator creates accounts with their role and agency).

Times are checked on the real clock (the provider's clock), never on the demo's simulated clock.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select

from dossiers.errors import Forbidden, Unauthorized, Unavailable
from dossiers.model import Person
from persistence.schema import app_user
from persistence.uow import transaction

SCOPES = "openid profile email"
# Asymmetric algorithms only: "none" and HS* (keyed with the client secret) are never accepted for ID tokens.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CLOCK_LEEWAY_SECONDS = 60


class OidcError(Unauthorized):
    code = "motcua.oidc_failed"


class OidcUnknownUser(Forbidden):
    code = "motcua.oidc_unknown_user"


def _failed(detail_en: str) -> OidcError:
    return OidcError("Đăng nhập qua nhà cung cấp định danh (OIDC) không thành công.", f"OIDC login failed: {detail_en}")


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    redirect_url: str

    @classmethod
    def configured(
        cls, issuer: str | None, client_id: str | None, client_secret: str | None, redirect_url: str
    ) -> OidcConfig | None:
        """None when OIDC login is not configured (no issuer: ``MOTCUA_OIDC_ISSUER`` unset)."""
        if not issuer:
            return None
        if not (client_id and client_secret):
            raise ValueError("MOTCUA_OIDC_ISSUER needs MOTCUA_OIDC_CLIENT_ID and MOTCUA_OIDC_CLIENT_SECRET")
        return cls(issuer=issuer, client_id=client_id, client_secret=client_secret, redirect_url=redirect_url)


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and the three values the callback needs back (keep them secret)."""

    url: str
    state: str
    nonce: str
    code_verifier: str


class OidcClient:
    """One relying party: discovery and the provider's keys are fetched lazily and cached."""

    def __init__(self, config: OidcConfig, *, timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ discovery and keys

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=self.timeout, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(
                "Không kết nối được nhà cung cấp định danh (OIDC).", f"OpenID Provider unreachable at {url}: {exc}"
            ) from exc
        if not isinstance(data, dict):
            raise Unavailable("Nhà cung cấp định danh trả lời không hợp lệ.", f"{url} did not return a JSON object.")
        return data

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
                data = self._get_json(url)
                if data.get("issuer") != self.config.issuer:
                    raise Unavailable(
                        "Cấu hình nhà cung cấp định danh không khớp.",
                        f"Discovery issuer {data.get('issuer')!r} is not the configured {self.config.issuer!r}.",
                    )
                for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(data.get(key), str):
                        raise Unavailable("Cấu hình nhà cung cấp định danh thiếu thông tin.", f"Discovery lacks {key}.")
                self._metadata = data
            return self._metadata

    def _key_set(self, *, refresh: bool = False) -> KeySet:
        uri = self.metadata()["jwks_uri"]
        with self._lock:
            if self._jwks is None or refresh:
                self._jwks = self._get_json(uri)
            return KeySet.import_key_set(self._jwks)  # type: ignore[arg-type]

    def _session(self) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scope=SCOPES,
            redirect_uri=self.config.redirect_url,
            token_endpoint_auth_method="client_secret_basic",
            code_challenge_method="S256",
            default_timeout=self.timeout,
        )

    # ------------------------------------------------------------------ the flow

    def authorization_request(self) -> AuthorizationRequest:
        state = generate_token(32)
        nonce = generate_token(32)
        verifier = generate_token(64)  # 64 characters of [A-Za-z0-9]: a valid RFC 7636 code verifier
        with self._session() as session:
            url, _ = session.create_authorization_url(
                self.metadata()["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
            )
        return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)

    def finish(
        self,
        params: dict[str, str],
        *,
        state: str,
        nonce: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """The callback's query ``params`` → the user's validated claims (ID token claims and userinfo).

        ``state``, ``nonce`` and ``code_verifier`` are the values of :meth:`authorization_request` that the
        browser brought back in the signed cookie."""
        if not state or not secrets.compare_digest(params.get("state", ""), state):
            raise _failed("the state does not match this browser's login request")
        if "error" in params:
            raise _failed(f"the provider answered {params['error']}: {params.get('error_description', '')}")
        issuer = params.get("iss")
        if issuer is not None and issuer != self.config.issuer:  # RFC 9207: mix-up defence
            raise _failed(f"the authorization response comes from {issuer!r}")
        code = params.get("code")
        if not code:
            raise _failed("the authorization response has no code")
        metadata = self.metadata()
        try:
            with self._session() as session:
                token = session.fetch_token(
                    metadata["token_endpoint"], grant_type="authorization_code", code=code, code_verifier=code_verifier
                )
        except OAuthError as exc:
            raise _failed(f"the token endpoint refused the code ({exc.error}: {exc.description})") from exc
        except (requests.RequestException, ValueError) as exc:
            raise _failed(f"the token endpoint could not be reached ({exc})") from exc
        if "id_token" not in token or "access_token" not in token:
            raise _failed("the token response has no ID token")
        claims = self.validate_id_token(token["id_token"], nonce=nonce, access_token=token["access_token"])
        userinfo = self.userinfo(token["access_token"]) if metadata.get("userinfo_endpoint") else {}
        if userinfo and userinfo.get("sub") != claims["sub"]:
            raise _failed("userinfo is about another subject than the ID token")
        return {**userinfo, **claims}

    def validate_id_token(self, id_token: str, *, nonce: str, access_token: str | None = None) -> dict[str, Any]:
        if not nonce:
            raise _failed("no nonce to check the ID token against")
        registry = JWSRegistry(algorithms=list(ID_TOKEN_ALGORITHMS))
        try:
            try:
                decoded = jwt.decode(id_token, self._key_set(), registry=registry)
            except InvalidKeyIdError:
                decoded = jwt.decode(id_token, self._key_set(refresh=True), registry=registry)  # keys rotated
            options: dict[str, Any] = {
                "iss": {"essential": True, "value": self.config.issuer},
                "aud": {"essential": True, "value": self.config.client_id},
                "sub": {"essential": True},
                "nonce": {"essential": True},
            }
            params = {"nonce": nonce, "client_id": self.config.client_id}
            if access_token:
                params["access_token"] = access_token
            claims = CodeIDToken(decoded.claims, decoded.header, options, params)
            claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
        except (JoseError, ValueError) as exc:
            raise _failed(f"the ID token is not valid ({exc})") from exc
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):  # authlib checks it too: belt and braces
            raise _failed("the ID token's nonce does not match")
        return dict(claims)

    def userinfo(self, access_token: str) -> dict[str, Any]:
        url = self.metadata()["userinfo_endpoint"]
        try:
            headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
            response = httpx.get(url, timeout=self.timeout, headers=headers)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise _failed(f"userinfo could not be read ({exc})") from exc
        if not isinstance(data, dict):
            raise _failed("userinfo is not a JSON object")
        return data


class LocalAccounts(Protocol):
    """The local accounts an OIDC login maps to (``services.accounts.Accounts``)."""

    db: SqlEngine

    def get(self, username: str) -> Person | None: ...


def local_person(accounts: LocalAccounts, claims: dict[str, Any]) -> Person:
    """The existing, active local account named by ``preferred_username``; never creates one."""
    username = claims.get("preferred_username")
    if not isinstance(username, str) or not username.strip():
        raise OidcUnknownUser(
            "Nhà cung cấp định danh không cho biết tên đăng nhập (preferred_username).",
            "The OpenID Provider sent no preferred_username to map to a Motcua account.",
        )
    person = accounts.get(username)
    if person is None:
        raise OidcUnknownUser(
            f"Tài khoản {username} chưa có trong hệ thống Một cửa. Đề nghị quản trị viên tạo tài khoản cho bạn.",
            f"There is no Motcua account {username}; an administrator must create it "
            "(officials are never created automatically on OIDC login).",
            username=username,
        )
    with transaction(accounts.db) as conn:
        active = conn.execute(select(app_user.c.active).where(app_user.c.username == username)).scalar_one()
    if not active:
        raise OidcUnknownUser(
            f"Tài khoản {username} đã bị khoá.", f"The Motcua account {username} is disabled.", username=username
        )
    return person


def redirect_is_secure(config: OidcConfig) -> bool:
    """Whether the callback is served over HTTPS (the state cookie is then ``Secure``)."""
    return urlsplit(config.redirect_url).scheme == "https"
