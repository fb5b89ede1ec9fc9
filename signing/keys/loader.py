"""Choosing the server's key provider from settings: PKCS#11 when any ``MOTCUA_PKCS11_*`` value is set, else the
development PKI's PKCS#12 files."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography import x509

from dossiers.errors import InvalidInput
from signing.api import KeyProvider
from signing.keys.pkcs11 import (
    ENV_PKCS11_KEYS,
    ENV_PKCS11_MODULE,
    ENV_PKCS11_PIN,
    ENV_PKCS11_TOKEN,
    PKCS11_ENV,
    Pkcs11Keys,
)
from signing.keys.pkcs12 import Pkcs12Keys
from signing.pki import DevelopmentPki


def load_key_provider(
    settings: Mapping[str, Any] | None = None,
    *,
    pki: DevelopmentPki | None = None,
    module: str | None = None,
    token: str | None = None,
    pin: str | None = None,
    keys: str | Mapping[str, str] | None = None,
    ca_certs: Iterable[x509.Certificate] = (),
) -> KeyProvider:
    """The key provider for the server: PKCS#11 when any ``MOTCUA_PKCS11_*`` value is set, else ``pki``'s files.

    ``settings`` is any mapping with the ``MOTCUA_PKCS11_MODULE``, ``…_TOKEN``, ``…_PIN`` and ``…_KEYS`` names
    (``os.environ`` works); explicit arguments win over it. ``keys`` is a JSON object text (or a mapping) from
    agency code to the label of its key and certificate on the token. A partial PKCS#11 configuration is an
    error rather than a silent fall-back to the development keys."""
    settings = settings or {}

    def pick(explicit: Any, name: str) -> Any:
        value = explicit if explicit is not None else settings.get(name)
        return value or None

    values = {
        ENV_PKCS11_MODULE: pick(module, ENV_PKCS11_MODULE),
        ENV_PKCS11_TOKEN: pick(token, ENV_PKCS11_TOKEN),
        ENV_PKCS11_PIN: pick(pin, ENV_PKCS11_PIN),
        ENV_PKCS11_KEYS: pick(keys, ENV_PKCS11_KEYS),
    }
    if not any(values.values()):
        if pki is None:
            raise InvalidInput(
                "Chưa cấu hình khóa ký của cơ quan (PKCS#11 hoặc hạ tầng khóa phát triển).",
                f"No agency signing keys are configured (set {', '.join(PKCS11_ENV)}, or give a development PKI).",
            )
        return Pkcs12Keys(pki)
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise InvalidInput(
            f"Cấu hình PKCS#11 chưa đủ: thiếu {', '.join(missing)}.",
            f"PKCS#11 configuration is incomplete: {', '.join(missing)} missing.",
            missing=missing,
        )
    labels = values[ENV_PKCS11_KEYS]
    if isinstance(labels, str):
        try:
            labels = json.loads(labels)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"{ENV_PKCS11_KEYS} không phải JSON hợp lệ.",
                f"{ENV_PKCS11_KEYS} is not valid JSON: {exc}",
            ) from exc
    return Pkcs11Keys(
        os.fspath(values[ENV_PKCS11_MODULE]),
        str(values[ENV_PKCS11_TOKEN]),
        str(values[ENV_PKCS11_PIN]),
        labels,
        ca_certs=ca_certs,
    )
