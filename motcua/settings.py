"""Settings from the environment (prefix ``MOTCUA_``); the embedded default needs none of them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_LENGTH = 32  # characters of MOTCUA_SECRET_KEY production accepts
MIN_PASSPHRASE_LENGTH = 16  # characters of MOTCUA_KEY_PASSPHRASE production accepts
SECRET_KEY_FILE = "secret_key"  # under MOTCUA_VAR_DIR, written by `motcua init` (mode 0600)
DEVELOPMENT_PASSPHRASE = "motcua-development-only"  # noqa: S105 - the development PKI's published passphrase
# Values published in this repository's history or in examples: whoever read them could forge callbacks,
# result links and CSRF tokens, so no installation may use them.
PUBLISHED_SECRETS = frozenset({"motcua-development-secret-change-me", DEVELOPMENT_PASSPHRASE})
_OBVIOUS_WORDS = ("changeme", "change-me", "change_me", "example", "dummy", "placeholder", "motcua-development")


def weak_secret(value: str | None, minimum: int) -> str | None:
    """Why ``value`` cannot protect a production installation (None: it can): missing, too short, published in
    this repository, or obvious (a placeholder word, or hardly any distinct characters)."""
    if not value or not value.strip():
        return "is not set"
    if value in PUBLISHED_SECRETS or value.strip().lower() in PUBLISHED_SECRETS:
        return "is a value published with Motcua's source code"
    if len(value) < minimum:
        return f"is shorter than {minimum} characters"
    lowered = value.lower()
    if any(word in lowered for word in _OBVIOUS_WORDS) or len(set(value)) < 8:
        return "is an obvious placeholder (use a random value, e.g. `openssl rand -base64 48`)"
    return None


class SettingsRefused(ValueError):
    """A setting a production start refuses (the message names the variable and what to do)."""


WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # listening on every interface: no address to print


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "production"] = Field(
        "development",
        validation_alias=AliasChoices("MOTCUA_ENVIRONMENT", "MOTCUA_ENV"),
        description="`production` (also `prod`; alias `MOTCUA_ENV`) refuses a missing, short or published secret "
        "key and key passphrase and creates no demo people.",
    )
    var_dir: Path = Field(Path("var"), description="Where the embedded default keeps its state.")
    host: str = Field("127.0.0.1", description="Address `motcua serve` listens on.")
    port: int = Field(8000, description="Port `motcua serve` listens on.")
    engine: Literal["embedded", "operaton"] = Field("embedded", description="Workflow engine.")
    engine_state_retention_days: float = Field(
        30.0,
        ge=0,
        description="Embedded engine: days a finished process keeps its engine state (~10 KB) before housekeeping "
        "drops it, keeping the ids of its completed steps for the diagram; its history stays in the audit log "
        "(0: at the next housekeeping round). Operaton keeps its own history for the BPMN's "
        "`camunda:historyTimeToLive` (P3650D), removed by its history cleanup when a batch window is configured.",
    )
    operaton_url: str | None = Field(None, description="Operaton REST base URL (`…/engine-rest`).")
    operaton_user: str | None = Field(None, description="Operaton REST user (HTTP Basic auth).")
    operaton_password: str | None = Field(None, description="Password of the Operaton REST user.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in `var/`.")
    catalogue_dir: Path | None = Field(
        None,
        description=(
            "An agency's own procedure catalogue: entries (`*.json`, an entry with a built-in code overrides it), "
            "their BPMN files and `results/` templates, with their forms in `forms/` beside it. The procedure "
            "designer publishes and `motcua procedures import` writes here; unset, both refuse. `make run` sets "
            "`var/catalogue`."
        ),
    )
    templates_dir: Path | None = Field(
        None,
        description=(
            "An agency's edited form templates (`mau-0N.json` for the 2018 set, `2025/mau-0N.json` for the 2025 "
            "set); forms without a file keep the shipped text."
        ),
    )
    public_base_url: str | None = Field(
        None,
        description="Public address of the portal: the receipt's lookup link and QR code, the accepted login origin, "
        "the OIDC callback. Unset: the address `motcua serve` answers on (`http[s]://MOTCUA_HOST:MOTCUA_PORT`; a "
        "wildcard host gives this machine's name). Behind a proxy, set it to the public `https://` address.",
    )
    storage_url: str | None = Field(None, description="`file:///path` or `s3://…`; default `var/objects`.")
    secret_key: str | None = Field(
        None,
        description="The installation's secret: keys of CSRF tokens, OIDC state cookies, public result links and "
        "(unless MOTCUA_PAYMENT_CALLBACK_SECRET) payment callbacks are derived from it. Unset: the random value "
        "`motcua init` writes to `var/secret_key` (mode 0600). Production refuses a missing value, fewer than 32 "
        "characters, a placeholder or a value published with the source code.",
    )
    token_ttl_hours: int = Field(12, description="Lifetime of an API bearer token.")
    metrics_token: str | None = Field(
        None,
        min_length=32,
        description="Bearer token a Prometheus scraper presents to `GET /metrics` (at least 32 characters); "
        "administrators and auditors may use their own tokens. Unset: only theirs — `/metrics` is never public.",
    )
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
    render_time_limit_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How long rendering one form (receipt, refusal, control sheet, …) may take; past it the step "
        "fails (retried, then an incident) or the request gets 503.",
    )
    trust_roots: str = Field(
        "",
        description="Comma-separated PEM files of trusted roots (national root CA, Government Cipher Committee "
        "root); in development the development PKI's root is trusted too.",
    )
    verify_allow_fetching: bool = Field(
        False, description="Let signature validation fetch OCSP/CRL online (otherwise embedded and local data only)."
    )
    tsa_url: str | None = Field(
        None,
        description="RFC 3161 time-stamping service: seals become PAdES B-LT, issued results (a seal over the "
        "leader's signature) B-LTA, and the leader's signature gets its signature timestamp. The TSA's root must be "
        "among MOTCUA_TRUST_ROOTS. Unset: every signature is B-B with its chain and revocation data embedded.",
    )
    pki_public_url: str = Field(
        "http://127.0.0.1:8000/pki/",
        pattern=r"^https?://\S+$",
        description="Public address under which `motcua serve` publishes the development PKI's CRLs (`/pki/root.crl`, "
        "`/pki/agency-ca.crl`); certificates issued from then on name it as their CRL distribution point. "
        "Certificates issued before keep the address they were issued with.",
    )
    audit_agency: str = Field(
        "000.00.00.H99",
        description="Agency whose seal key signs the audit log's checkpoints (the agency operating this installation).",
    )
    audit_checkpoint_minutes: float = Field(
        60.0, description="How often housekeeping signs and timestamps a checkpoint of the audit log's head (0: never)."
    )
    audit_anchor_seconds: float = Field(
        5.0,
        description="How often housekeeping writes the audit log's head (seq and hash), write-once, to the object "
        "store (`audit/anchors/`) when it moved: `motcua audit verify` reports entries deleted or rewritten up to "
        "the newest anchor, so only the entries of the last few seconds can vanish unnoticed (0: never).",
    )
    audit_read_flush_seconds: float = Field(
        0.5,
        ge=0,
        description="How long the audit entry of a read of personal data may wait before it is appended, batched with "
        "the other reads (one short transaction, never in the request): a crash loses at most this much of the reads' "
        "entries, never a change's (0: each read's entry is appended in its request, queuing for the writers' lock).",
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
        DEVELOPMENT_PASSPHRASE,
        description="Encrypts the PKCS#12 keys in `var/pki`. The default is the development PKI's published "
        "passphrase (its officials' key files open with it in the browser demo); production refuses it, a value "
        "shorter than 16 characters or a placeholder.",
    )
    development_certificates: bool = Field(
        True,
        description="Outside production, a leader or clerk added later (administration page, `motcua users add`) "
        "gets a certificate of the development PKI at once. Off (and always in production): an administrator "
        "registers each official's certificate (Quản trị → Chứng thư số) before they can approve a result they "
        "would sign.",
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
    public_link_hours: int = Field(
        24,
        ge=1,
        le=168,
        description="Lifetime of a public result download link, in hours (at most a week); a link naming a later "
        "expiry is refused.",
    )
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

    @field_validator("environment", mode="before")
    @classmethod
    def _environment_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            return {"prod": "production", "dev": "development"}.get(value, value)
        return value

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        """The secret key comes from the environment or else from ``var/secret_key``; a published value is refused
        everywhere, and production also refuses a short or obvious one (a missing one is refused where the
        installation starts: :meth:`require_secret_key`, after ``motcua init`` could write the file)."""
        if self.secret_key is None:
            self.secret_key = read_secret_file(self.secret_key_file)
            if self.secret_key is not None and self.environment == "production":
                mode = self.secret_key_file.stat().st_mode
                if mode & 0o077:
                    raise SettingsRefused(
                        f"{self.secret_key_file} can be read by other users (mode {mode & 0o777:o}): "
                        f"run `chmod 600 {self.secret_key_file}`."
                    )
        elif not self.secret_key.strip():
            self.secret_key = None
        if self.secret_key is not None and self.secret_key.strip().lower() in PUBLISHED_SECRETS:
            raise SettingsRefused(
                "MOTCUA_SECRET_KEY is a value published with Motcua's source code: anyone could forge payment "
                "callbacks, result links and CSRF tokens with it. Unset it (`motcua init` writes a random one to "
                "var/secret_key) or set a random value of at least 32 characters."
            )
        if self.environment == "production":
            if self.secret_key is not None and (reason := weak_secret(self.secret_key, MIN_SECRET_LENGTH)):
                raise SettingsRefused(
                    f"MOTCUA_SECRET_KEY {reason}: production needs a random value of at least {MIN_SECRET_LENGTH} "
                    "characters (e.g. `openssl rand -base64 48`)."
                )
            if reason := weak_secret(self.key_passphrase, MIN_PASSPHRASE_LENGTH):
                raise SettingsRefused(
                    f"MOTCUA_KEY_PASSPHRASE {reason}: production needs its own passphrase of at least "
                    f"{MIN_PASSPHRASE_LENGTH} characters for the keys in var/pki."
                )
        return self

    def require_secret_key(self) -> str:
        """The secret key, or a clear refusal in production when there is none (no variable, no file); in
        development a missing one is created (``var/secret_key``, mode 0600) so a fresh checkout just runs."""
        if self.secret_key is None:
            if self.environment == "production":
                raise SettingsRefused(
                    "MOTCUA_SECRET_KEY is not set and there is no "
                    f"{self.secret_key_file}: run `motcua init` on this installation or set MOTCUA_SECRET_KEY "
                    f"to a random value of at least {MIN_SECRET_LENGTH} characters (the same on every API "
                    "and worker process)."
                )
            self.secret_key = ensure_secret_file(self.secret_key_file)
        return self.secret_key

    def derived_key(self, purpose: str) -> bytes:
        """A key for one purpose (HMAC-SHA256 of the label under the secret key): a key leaked from one use (a
        payment gateway's callback key) opens no other."""
        return hmac.new(self.require_secret_key().encode(), purpose.encode(), hashlib.sha256).digest()

    @property
    def secret_key_file(self) -> Path:
        return self.var_dir / SECRET_KEY_FILE

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError("MOTCUA_OIDC_ISSUER needs MOTCUA_OIDC_CLIENT_ID and MOTCUA_OIDC_CLIENT_SECRET")
        if self.oidc_issuer and self.environment == "production" and not self.oidc_issuer.startswith("https://"):
            raise ValueError("MOTCUA_OIDC_ISSUER must be an https:// URL in production")
        return self

    @property
    def resolved_public_base_url(self) -> str:
        """``MOTCUA_PUBLIC_BASE_URL``, or the address this server really answers on: a receipt printed by a server on
        port 8123 must not send citizens to port 8000."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        scheme = "https" if self.tls_cert_file else "http"
        host = self.host if self.host not in WILDCARD_HOSTS else socket.getfqdn()
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    @property
    def resolved_oidc_redirect_url(self) -> str:
        return self.oidc_redirect_url or self.resolved_public_base_url + "/dang-nhap/oidc/callback"

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


def read_secret_file(path: Path) -> str | None:
    """The secret ``motcua init`` wrote, or None when there is no such file."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None


def ensure_secret_file(path: Path) -> str:
    """Create ``path`` with a fresh random secret (mode 0600, never replacing one: two processes starting at once
    agree on the first), and return the secret it holds."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(value + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # complete or absent, never replaced: readers never see half a secret
        except FileExistsError:
            existing = read_secret_file(path)
            if existing is None:
                raise SettingsRefused(f"{path} is empty: delete it and run `motcua init` again.") from None
            return existing
    finally:
        tmp.unlink(missing_ok=True)
    return value


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
            shown = "random, in `var/secret_key` (written by `motcua init`)"
        lines.append(f"| `MOTCUA_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(lines) + "\n"
