"""The notifier's real adapters against real servers: an SMTP server (aiosmtpd, plain and with STARTTLS and
login) receives the Vietnamese e-mail, a local HTTP server receives the SMS; a gateway that is down leaves
the message failed after its retries with the error recorded, and redispatching never sends twice."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from dossiers.clock import SimulatedClock
from integrations.notifications import EmailTransport, FileTransport, SmsTransport
from motcua.settings import Settings
from persistence.schema import metadata, notification
from persistence.uow import make_engine, transaction
from services.notifications import Dispatcher, Outbox, build_dispatcher

pytestmark = pytest.mark.integration

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
SUBJECT = "Hồ sơ 000.00.31.H99-260302-0001: xin lỗi và hẹn lại ngày trả kết quả (Mẫu 04)"
BODY = (
    "Kính gửi Ông/Bà Nguyễn Văn An,\n\n"
    "Ủy ban nhân dân xã Hòa An thành thật xin lỗi vì hồ sơ chưa được giải quyết đúng hẹn.\n"
    "Lý do: cần xác minh thêm địa chỉ trụ sở hộ kinh doanh.\n"
    "Thời gian hẹn trả kết quả mới: 17:00 ngày 09/03/2026."
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'notify.sqlite3'}")
    metadata.create_all(engine, tables=[notification])
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


def _rows(db: Engine) -> list[Any]:
    with transaction(db) as conn:
        return list(conn.execute(select(notification).order_by(notification.c.created_at)).all())


# ------------------------------------------------------------------ SMTP


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _parsed(envelope: Any) -> Any:
    return email.message_from_bytes(envelope.original_content, policy=email.policy.default)


def test_the_email_reaches_a_real_smtp_server(
    db: Engine, clock: SimulatedClock, smtp_server: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp_server
    settings = Settings(
        var_dir=tmp_path / "var",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="Một cửa xã Hòa An <motcua@hoaan.example.vn>",
    )
    outbox = Outbox(db, clock)
    outbox.notify("email", "an.nguyen@example.vn", SUBJECT, BODY, "D1/apology/email", dossier_code="D1")
    dispatcher = build_dispatcher(settings, db, clock)
    assert dispatcher.dispatch().sent == 1
    (envelope,) = inbox.messages
    assert envelope.mail_from == "motcua@hoaan.example.vn"
    assert envelope.rcpt_tos == ["an.nguyen@example.vn"]
    message = _parsed(envelope)
    assert message["Subject"] == SUBJECT
    assert message.get_content().replace("\r\n", "\n").strip() == BODY  # CRLF on the wire
    assert message["From"].addresses[0].display_name == "Một cửa xã Hòa An"
    assert message["X-Motcua-Idempotency-Key"] == "D1/apology/email"
    # sent once: a redispatch, and the same notification again, deliver nothing more
    outbox.notify("email", "an.nguyen@example.vn", SUBJECT, BODY, "D1/apology/email", dossier_code="D1")
    clock.advance(dt.timedelta(hours=1))
    assert dispatcher.dispatch().sent == 0
    assert len(inbox.messages) == 1
    assert not (tmp_path / "var" / "outbox" / "notifications.jsonl").exists()  # e-mail was configured


def test_starttls_and_login(db: Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    cert_path, key_path = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_path, key_path)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and data.login == b"motcua" and data.password == "mật-khẩu".encode():
            logins.append((data.login, data.password))
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    inbox = Inbox()
    port = free_port()
    controller = aiosmtpd_controller.Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        client_tls = ssl.create_default_context(cafile=str(cert_path))
        transport = EmailTransport(
            "127.0.0.1",
            port,
            sender="motcua@hoaan.example.vn",
            user="motcua",
            password="mật-khẩu",
            starttls=True,
            tls_context=client_tls,
        )
        Outbox(db, clock).notify("email", "an@example.vn", SUBJECT, BODY, "k-tls")
        dispatcher = Dispatcher(db, clock, {"email": transport}, FileTransport(tmp_path / "unused.jsonl"))
        assert dispatcher.dispatch().sent == 1
        assert logins and _parsed(inbox.messages[0])["Subject"] == SUBJECT
        # without STARTTLS the server refuses the mail: recorded, retried later
        plain = EmailTransport("127.0.0.1", port, sender="motcua@hoaan.example.vn")
        Outbox(db, clock).notify("email", "an@example.vn", SUBJECT, BODY, "k-plain")
        refused = Dispatcher(db, clock, {"email": plain}, FileTransport(tmp_path / "unused.jsonl"), max_attempts=1)
        assert refused.dispatch().failed == 1
        failed = [r for r in _rows(db) if r.idempotency_key == "k-plain"][0]
        assert failed.status == "failed" and "STARTTLS" in failed.last_error
    finally:
        controller.stop()


# ------------------------------------------------------------------ SMS gateway


class Gateway:
    """A local SMS gateway: answers ``fail_first`` requests with 503, then 200; remembers what it got."""

    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.fail_first = fail_first
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length", "0"))
                payload = json.loads(self.rfile.read(length).decode("utf-8"))
                gateway.requests.append(({k.lower(): v for k, v in self.headers.items()}, payload))
                failing = len(gateway.requests) <= gateway.fail_first
                status = 503 if failing else 200
                body = b'{"error": "busy"}' if failing else b'{"accepted": true}'
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Gateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_the_sms_reaches_the_gateway(db: Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    with Gateway(fail_first=1) as gateway:
        settings = Settings(
            var_dir=tmp_path / "var",
            sms_gateway_url=gateway.url,
            sms_gateway_token="token-123",
            notify_retry_seconds=30,
        )
        Outbox(db, clock).notify("sms", "0912345678", SUBJECT, BODY, "D1/apology/sms", dossier_code="D1")
        dispatcher = build_dispatcher(settings, db, clock)
        assert dispatcher.dispatch().retrying == 1  # 503 the first time
        (row,) = _rows(db)
        assert row.status == "pending" and "HTTP 503" in row.last_error
        clock.advance(dt.timedelta(seconds=30))
        assert dispatcher.dispatch().sent == 1
        assert dispatcher.dispatch().sent == 0
    assert len(gateway.requests) == 2
    headers, payload = gateway.requests[-1]
    assert headers["authorization"] == "Bearer token-123"
    assert headers["idempotency-key"] == "D1/apology/sms"
    assert payload == {
        "to": "0912345678",
        "subject": SUBJECT,
        "message": BODY,
        "idempotency_key": "D1/apology/sms",
    }
    (row,) = _rows(db)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


def test_a_gateway_that_is_down_leaves_the_message_failed_and_kept(
    db: Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}/sms"  # nothing listens there
    transport = SmsTransport(down, "token", timeout=2.0)
    dispatcher = Dispatcher(
        db, clock, {"sms": transport}, FileTransport(tmp_path / "x.jsonl"), max_attempts=3, retry_seconds=10
    )
    Outbox(db, clock).notify("sms", "0912345678", SUBJECT, BODY, "D2/apology/sms", dossier_code="D2")
    outcomes = []
    for _ in range(6):
        report = dispatcher.dispatch()
        outcomes.append((report.sent, report.retrying, report.failed))
        clock.advance(dt.timedelta(minutes=1))
    assert outcomes[:3] == [(0, 1, 0), (0, 1, 0), (0, 0, 1)]
    assert outcomes[3:] == [(0, 0, 0)] * 3
    (row,) = _rows(db)
    assert (row.status, row.attempts, row.body, row.recipient) == ("failed", 3, BODY, "0912345678")
    assert row.last_error.startswith("ConnectError")

    # the gateway is back: the operator requeues, the message goes out exactly once
    with Gateway() as gateway:
        dispatcher.transports["sms"] = SmsTransport(gateway.url, "token")
        assert dispatcher.requeue(row.id)
        assert dispatcher.dispatch().sent == 1
        clock.advance(dt.timedelta(hours=1))
        assert dispatcher.dispatch().sent == 0
    assert [p["idempotency_key"] for _, p in gateway.requests] == ["D2/apology/sms"]
