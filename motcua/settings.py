"""Settings from the environment (prefix ``MOTCUA_``); the embedded default needs none of them."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "motcua-development-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development", description="`production` refuses development defaults such as the secret key."
    )
    var_dir: Path = Field(Path("var"), description="Where the embedded default keeps its state.")
    host: str = Field("127.0.0.1", description="Address `motcua serve` listens on.")
    port: int = Field(8000, description="Port `motcua serve` listens on.")
    engine: Literal["embedded", "operaton"] = Field("embedded", description="Workflow engine.")
    operaton_url: str | None = Field(None, description="Operaton REST base URL (`…/engine-rest`).")
    operaton_user: str | None = Field(None, description="Operaton REST user (HTTP Basic auth).")
    operaton_password: str | None = Field(None, description="Password of the Operaton REST user.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in `var/`.")
    catalogue_dir: Path | None = Field(
        None, description="An agency's own procedure catalogue entries (`*.json`), added to the built-in ones."
    )
    templates_dir: Path | None = Field(
        None,
        description="An agency's edited form templates (`mau-0N.json`); forms without a file keep the shipped text.",
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="Public address of the portal (the QR code on receipts points here)."
    )
    storage_url: str | None = Field(None, description="`file:///path` or `s3://…`; default `var/objects`.")
    secret_key: str = Field(
        DEV_SECRET, description="Secret for the web pages' session cookies; must be set in production."
    )
    token_ttl_hours: int = Field(12, description="Lifetime of an API bearer token.")
    max_upload_mb: int = Field(50, description="Largest accepted upload, checked while streaming.")
    demo_clock: bool = Field(False, description="Run on a simulated clock that the demo moves across working days.")
    workers_in_process: bool = Field(True, description="`serve` runs the topic workers in-process.")
    worker_lock_seconds: float = Field(60.0, description="External-task lock duration.")
    worker_retries: int = Field(3, description="Retries before an external task becomes an incident.")
    worker_max_tasks: int = Field(10, description="External tasks a worker locks per fetch.")
    worker_retry_seconds: float = Field(30.0, description="Wait before a failed external task is tried again.")
    worker_poll_seconds: float = Field(
        20.0, description="Long polling: how long an idle worker's fetch waits on Operaton for a task."
    )
    trust_roots: str = Field(
        "",
        description="Comma-separated PEM files of trusted roots (national root CA, Government Cipher Committee "
        "root); in development the development PKI's root is trusted too.",
    )
    verify_allow_fetching: bool = Field(
        False, description="Let signature validation fetch OCSP/CRL online (otherwise embedded and local data only)."
    )
    tsa_url: str | None = Field(None, description="RFC 3161 time-stamping service: agency seals become PAdES B-T.")
    audit_agency: str = Field(
        "000.00.00.H99",
        description="Agency whose seal key signs the audit log's checkpoints (the agency operating this installation).",
    )
    audit_checkpoint_minutes: float = Field(
        60.0, description="How often housekeeping signs and timestamps a checkpoint of the audit log's head (0: never)."
    )
    tls_cert_file: str | None = Field(
        None,
        description="PEM certificate (chain): `motcua serve` speaks HTTPS itself (else a TLS proxy in front).",
    )
    tls_key_file: str | None = Field(None, description="PEM private key of `MOTCUA_TLS_CERT_FILE`.")
    exchange_partners_file: str | None = Field(
        None,
        description="JSON file of partner agencies hosted by other installations (exchange URL, trust roots, "
        "certificates): hand-offs to them travel as signed envelopes. Unset: every agency is hosted here.",
    )
    exchange_retry_seconds: float = Field(
        5.0, description="First delay before an undelivered envelope is sent again (doubles on each failure)."
    )
    exchange_retry_max_seconds: float = Field(600.0, description="Longest delay between two delivery attempts.")
    exchange_timeout_seconds: float = Field(10.0, description="HTTP timeout of one delivery to a partner.")
    exchange_max_envelope_bytes: int = Field(
        256 * 1024 * 1024,
        description="Largest envelope the exchange endpoint reads (documents are base64-encoded inside it).",
    )
    pkcs11_module: str | None = Field(None, description="PKCS#11 module (.so) holding the agency seals.")
    pkcs11_token: str | None = Field(None, description="Label of the PKCS#11 token.")
    pkcs11_pin: str | None = Field(None, description="User PIN of the PKCS#11 token.")
    pkcs11_keys: str | None = Field(None, description="JSON object: agency code → key/certificate label on the token.")
    key_passphrase: str = Field(
        "motcua-development-only",
        description="Encrypts the PKCS#12 keys of the development PKI in `var/pki`; must be set in production.",
    )

    # ---- notifications to citizens (Notifier port: outbox → e-mail / SMS / outbox file)
    smtp_host: str | None = Field(
        None, description="SMTP server for e-mail notifications; unset: messages go to `var/outbox/` instead."
    )
    smtp_port: int = Field(25, description="SMTP port (587 with STARTTLS is usual).")
    smtp_user: str | None = Field(None, description="SMTP login (optional).")
    smtp_password: str | None = Field(None, description="SMTP password (optional).")
    smtp_from: str = Field("Motcua <noreply@motcua.example>", description="Sender of e-mail notifications.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS before logging in.")
    sms_gateway_url: str | None = Field(
        None, description="SMS gateway endpoint (HTTP POST JSON); unset: messages go to `var/outbox/` instead."
    )
    sms_gateway_token: str | None = Field(None, description="Bearer token for the SMS gateway.")
    notify_timeout_seconds: float = Field(10.0, description="Timeout of one delivery attempt (SMTP, SMS gateway).")
    notify_max_attempts: int = Field(5, description="Delivery attempts before a notification is marked failed.")
    notify_retry_seconds: float = Field(
        60.0, description="Wait before the first retry of a failed delivery; doubles with each attempt."
    )
    # ---- late dossiers (apology letter, Mẫu 04)
    late_notice_working_hours: float | None = Field(
        None,
        description="A dossier in progress is at risk of being late when its due date is within this many "
        "working hours; unset: one working day.",
    )
    # ---- fees
    payment_callback_secret: str | None = Field(
        None,
        description="HMAC-SHA256 key of the payment gateway's callbacks; unset: derived from MOTCUA_SECRET_KEY.",
    )
    # ---- public lookups
    public_lookups_per_minute: int = Field(
        10, description="Public dossier lookups allowed per client IP address in any 60-second window."
    )
    public_link_hours: int = Field(24, description="Lifetime of a public result download link.")
    # ---- OpenID Connect login (motcua/oidc.py, api/web/oidc_routes.py)
    oidc_issuer: str | None = Field(
        None,
        description="Issuer URL of the OpenID Provider (discovery at `<issuer>/.well-known/openid-configuration`); "
        "unset: no OIDC login. Users are mapped by `preferred_username` to existing local accounts only.",
    )
    oidc_client_id: str | None = Field(None, description="Client ID of Motcua at the OpenID Provider.")
    oidc_client_secret: str | None = Field(
        None, description="Client secret of Motcua at the OpenID Provider (confidential client, HTTP Basic)."
    )
    oidc_redirect_url: str | None = Field(
        None,
        description="Redirect URL registered at the provider; unset: `MOTCUA_PUBLIC_BASE_URL` + "
        "`/dang-nhap/oidc/callback`.",
    )

    @model_validator(mode="after")
    def _refuse_dev_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("MOTCUA_SECRET_KEY must be set in production")
        if self.environment == "production" and self.key_passphrase == "motcua-development-only":
            raise ValueError("MOTCUA_KEY_PASSPHRASE must be set in production")
        return self

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError("MOTCUA_OIDC_ISSUER needs MOTCUA_OIDC_CLIENT_ID and MOTCUA_OIDC_CLIENT_SECRET")
        if self.oidc_issuer and self.environment == "production" and not self.oidc_issuer.startswith("https://"):
            raise ValueError("MOTCUA_OIDC_ISSUER must be an https:// URL in production")
        return self

    @property
    def resolved_oidc_redirect_url(self) -> str:
        return self.oidc_redirect_url or self.public_base_url.rstrip("/") + "/dang-nhap/oidc/callback"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'motcua.sqlite3').resolve()}"

    @property
    def objects_dir(self) -> Path:
        if self.storage_url and self.storage_url.startswith("file://"):
            return Path(self.storage_url.removeprefix("file://"))
        return self.var_dir / "objects"

    @property
    def pki_dir(self) -> Path:
        return self.var_dir / "pki"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def settings_reference() -> str:
    """The settings reference (docs/settings.md), generated from the model so it cannot drift."""
    lines = [
        "# Settings reference",
        "",
        "Generated from `motcua/settings.py` by `motcua settings-doc`; a test keeps this file current.",
        "Every setting is an environment variable with the prefix `MOTCUA_`; the embedded default needs none.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(none)" if default is None else f"`{default}`"
        if name == "secret_key":
            shown = "development value (refused in production)"
        lines.append(f"| `MOTCUA_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(lines) + "\n"
