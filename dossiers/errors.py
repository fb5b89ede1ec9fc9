"""Domain errors: each carries a stable code and a message in Vietnamese and English.

The API maps them to ``application/problem+json``; the CLI prints them. Nothing here knows HTTP,
so the status is only a hint named by ``kind``.
"""

from __future__ import annotations


class MotcuaError(Exception):
    """Base of every error a user can be told about."""

    kind = "invalid"  # invalid | not_found | forbidden | conflict | unauthorized | too_large | unavailable
    code = "motcua.error"

    def __init__(self, message_vi: str, message_en: str, **details: object) -> None:
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en
        self.details = details


class InvalidInput(MotcuaError):
    kind = "invalid"
    code = "motcua.invalid_input"


class NotFound(MotcuaError):
    kind = "not_found"
    code = "motcua.not_found"


class Forbidden(MotcuaError):
    kind = "forbidden"
    code = "motcua.forbidden"


class Unauthorized(MotcuaError):
    kind = "unauthorized"
    code = "motcua.unauthorized"


class Conflict(MotcuaError):
    kind = "conflict"
    code = "motcua.conflict"


class TooLarge(MotcuaError):
    kind = "too_large"
    code = "motcua.too_large"


class Unavailable(MotcuaError):
    kind = "unavailable"
    code = "motcua.unavailable"
