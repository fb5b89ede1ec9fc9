"""Settings over a state directory: development gets a random per-installation secret (``var/secret_key``, mode
0600), production refuses a missing, short or published secret and passphrase. What reads no state directory is in
tests/unit/test_settings.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from motcua.settings import Settings, SettingsRefused

pytestmark = pytest.mark.integration

OLD_DEV_SECRET = "motcua-development-secret-change-me"  # the constant the source code used to ship as the default
GOOD_SECRET = "q9V-4hT2mX7bKc8LwR1nZp5sJd3YfGa6Ue0o"  # 36 random characters
GOOD_PASSPHRASE = "k3Rw-9sLx2Qv7mTb"
DEV_PASSPHRASE = "motcua-development-only"  # the development PKI's, the default outside production


def test_production_refuses_a_short_published_or_obvious_secret_and_passphrase(tmp_path: Path) -> None:
    var = tmp_path / "var"
    refused = {
        "is a value published": {"secret_key": OLD_DEV_SECRET},
        "is shorter than 32 characters": {"secret_key": "a-real-secret"},
        "is an obvious placeholder": {"secret_key": "please-change-me-before-going-live-now"},
        "is an obvious placeholder ": {"secret_key": "x" * 40},
        "MOTCUA_KEY_PASSPHRASE is a value published": {"secret_key": GOOD_SECRET, "key_passphrase": DEV_PASSPHRASE},
        "MOTCUA_KEY_PASSPHRASE is shorter than 16": {"secret_key": GOOD_SECRET, "key_passphrase": "short-pass"},
    }
    for message, values in refused.items():
        values = {"key_passphrase": GOOD_PASSPHRASE} | values
        with pytest.raises(ValidationError, match=message.strip()):
            Settings(environment="production", var_dir=var, **values)
    real = Settings(environment="production", var_dir=var, secret_key=GOOD_SECRET, key_passphrase=GOOD_PASSPHRASE)
    assert real.environment == "production" and real.require_secret_key() == GOOD_SECRET


def test_the_published_development_secret_is_refused_in_development_too(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="published with Motcua's source code"):
        Settings(var_dir=tmp_path / "var", secret_key=OLD_DEV_SECRET)


def test_development_gets_a_random_secret_file_and_production_refuses_a_missing_one(tmp_path: Path) -> None:
    var = tmp_path / "var"
    production = Settings(environment="production", var_dir=var, key_passphrase=GOOD_PASSPHRASE)
    assert production.secret_key is None
    with pytest.raises(SettingsRefused, match="MOTCUA_SECRET_KEY is not set and there is no .*secret_key"):
        production.require_secret_key()
    assert not (var / "secret_key").exists()  # refusing writes nothing

    development = Settings(var_dir=var)
    secret = development.require_secret_key()
    file = var / "secret_key"
    assert file.read_text().strip() == secret and len(secret) >= 64
    assert file.stat().st_mode & 0o777 == 0o600
    assert Settings(var_dir=var).secret_key == secret  # every process of the installation reads the same one
    assert Settings(var_dir=tmp_path / "other").require_secret_key() != secret  # per installation
    # the file written by `motcua init` satisfies production; one readable by others does not
    assert Settings(environment="production", var_dir=var, key_passphrase=GOOD_PASSPHRASE).secret_key == secret
    file.chmod(0o644)
    with pytest.raises(ValidationError, match="can be read by other users"):
        Settings(environment="production", var_dir=var, key_passphrase=GOOD_PASSPHRASE)
    # keys per purpose: different labels, different keys, none of them the secret itself
    keys = {development.derived_key("a"), development.derived_key("b"), secret.encode()}
    assert len(keys) == 3


def test_motcua_env_is_an_alias_of_motcua_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MOTCUA_ENVIRONMENT", raising=False)
    monkeypatch.setenv("MOTCUA_ENV", "prod")
    monkeypatch.setenv("MOTCUA_KEY_PASSPHRASE", GOOD_PASSPHRASE)
    monkeypatch.setenv("MOTCUA_VAR_DIR", str(tmp_path / "var"))
    assert Settings().environment == "production"
    monkeypatch.setenv("MOTCUA_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="shorter than 32"):
        Settings()
