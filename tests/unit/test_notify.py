"""The e-mail a notification becomes (the outbox and its dispatcher over a database are in
tests/integration/test_notify.py)."""

from __future__ import annotations

import email
import email.policy

from integrations.notifications import EmailTransport, OutgoingMessage

SUBJECT = "Hồ sơ 000.00.31.H99-260302-0001: xin lỗi và hẹn lại ngày trả kết quả"
BODY = "Kính gửi Ông/Bà Nguyễn Văn An,\nỦy ban nhân dân xã Hòa An thành thật xin lỗi."


def test_the_email_is_utf8_with_a_message_id_derived_from_the_key() -> None:
    transport = EmailTransport("localhost", sender="Một cửa xã Hòa An <motcua@hoaan.example.vn>")
    message = OutgoingMessage("id-1", "email", "an@example.vn", SUBJECT, BODY, "D1/apology/email", "D1")
    built = transport.build(message)
    again = transport.build(message)
    assert built["Message-ID"] == again["Message-ID"]
    assert built["Message-ID"].endswith("@hoaan.example.vn>")
    raw = built.as_bytes()
    raw.decode("ascii")  # headers encoded (RFC 2047), body transfer-encoded: 7-bit clean on the wire
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == SUBJECT
    assert parsed.get_content().strip() == BODY  # type: ignore[attr-defined]
