"""Settings: defaults need no variable, environment variables are read, the docs are current. The secret and the
passphrase over a state directory are tested in tests/integration/test_settings.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from motcua.settings import Settings, settings_reference

ROOT = Path(__file__).resolve().parents[2]


def test_the_embedded_default_needs_no_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("MOTCUA_"):
            monkeypatch.delenv(name)
    s = Settings()
    assert s.engine == "embedded"
    assert s.port == 8000
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.resolved_database_url.endswith("var/motcua.sqlite3")


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTCUA_PORT", "8123")
    monkeypatch.setenv("MOTCUA_STORAGE_URL", "file:///srv/motcua/objects")
    s = Settings()
    assert s.port == 8123
    assert str(s.objects_dir) == "/srv/motcua/objects"


def test_the_settings_reference_in_docs_is_current() -> None:
    assert (ROOT / "docs" / "settings.md").read_text(encoding="utf-8") == settings_reference(), (
        "docs/settings.md is stale: run `motcua settings-doc > docs/settings.md`"
    )


def test_the_public_address_is_where_the_server_answers_unless_configured() -> None:
    """The receipt's lookup link and QR code: a server on port 8123 must not print port 8000 (issue 16, point 9)."""
    assert Settings(port=8123).resolved_public_base_url == "http://127.0.0.1:8123"
    assert Settings(host="::1", port=8443, tls_cert_file="cert.pem").resolved_public_base_url == "https://[::1]:8443"
    assert "0.0.0.0" not in Settings(host="0.0.0.0").resolved_public_base_url
    configured = Settings(port=8123, public_base_url="https://dichvucong.hoaan.gov.vn/")
    assert configured.resolved_public_base_url == "https://dichvucong.hoaan.gov.vn"
    assert configured.resolved_oidc_redirect_url == "https://dichvucong.hoaan.gov.vn/dang-nhap/oidc/callback"
