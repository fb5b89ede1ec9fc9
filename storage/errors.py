"""Errors raised by the document-store adapters.

Each one subclasses a domain error from :mod:`dossiers.errors`, so the API and the CLI report it
(``kind`` → HTTP status hint, ``code``, Vietnamese and English messages) without knowing about storage.
"""

from __future__ import annotations

from dossiers.errors import Conflict, InvalidInput, NotFound, TooLarge, Unavailable


def _human_size(n: int) -> str:
    """``20971520`` → ``"20 MB"``; small values stay in bytes."""
    if n >= 1024 * 1024:
        value = n / (1024 * 1024)
        return f"{value:.0f} MB" if value.is_integer() else f"{value:.1f} MB"
    if n >= 1024:
        value = n / 1024
        return f"{value:.0f} KB" if value.is_integer() else f"{value:.1f} KB"
    return f"{n} byte"


class StorageError(Unavailable):
    """The document store cannot be used right now (disk full, permission denied, I/O error, …)."""

    code = "motcua.storage_unavailable"

    @classmethod
    def io_failure(cls, operation: str, key: str, exc: OSError) -> StorageError:
        return cls(
            f"Kho lưu trữ tài liệu tạm thời không khả dụng (thao tác {operation}). Vui lòng thử lại sau.",
            f"The document store is temporarily unavailable ({operation} failed). Please try again later.",
            operation=operation,
            key=key,
            errno=exc.errno,
            reason=exc.strerror or str(exc),
        )

    @classmethod
    def unreachable(cls, operation: str, key: str, endpoint: str, reason: str, attempts: int) -> StorageError:
        """The object store did not answer (connection refused or reset, timeout, 5xx) after every retry."""
        return cls(
            f"Không kết nối được kho lưu trữ tài liệu ({endpoint}) khi {operation} sau {attempts} lần thử; "
            "tài liệu chưa được lưu hoặc đọc. Vui lòng thử lại sau.",
            f"The document store at {endpoint} did not answer ({operation}) after {attempts} attempts; "
            "nothing was stored or served. Please try again later.",
            operation=operation,
            key=key,
            endpoint=endpoint,
            attempts=attempts,
            reason=reason,
        )

    @classmethod
    def rejected(cls, operation: str, key: str, endpoint: str, code: str, reason: str) -> StorageError:
        """The object store refused the request: wrong credentials, missing bucket, permission, bad request."""
        hint_vi, hint_en = "", ""
        if code in CREDENTIAL_ERRORS:
            hint_vi = " Khóa truy cập S3 (access key/secret key) không đúng: kiểm tra MOTCUA_STORAGE_URL."
            hint_en = " The S3 access key or secret key is wrong: check MOTCUA_STORAGE_URL."
        return cls(
            f"Kho lưu trữ tài liệu ({endpoint}) từ chối thao tác {operation} ({code}).{hint_vi}",
            f"The document store at {endpoint} refused {operation} ({code}: {reason}).{hint_en}",
            operation=operation,
            key=key,
            endpoint=endpoint,
            code=code,
            reason=reason,
        )


CREDENTIAL_ERRORS = frozenset({"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "InvalidToken"})


class IntegrityError(StorageError):
    """A stored object does not match its record (SHA-256 or size): it is corrupted and is not served."""

    code = "motcua.storage_integrity"

    def __init__(self, key: str, reason: str, **details: object) -> None:
        super().__init__(
            f"Tài liệu {key} bị hỏng (không khớp mã băm SHA-256 hoặc kích thước) và không thể cung cấp.",
            f"Document {key} is corrupted ({reason}) and cannot be served.",
            key=key,
            reason=reason,
            **details,
        )


class InvalidKey(InvalidInput):
    """A key or key prefix is not a safe relative path of ``[A-Za-z0-9._-]`` segments."""

    code = "motcua.storage_invalid_key"

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(
            f"Khóa lưu trữ không hợp lệ: {key!r} ({reason}).",
            f"Invalid storage key {key!r}: {reason}.",
            key=key,
            reason=reason,
        )


class ObjectExists(Conflict):
    """Write-once refusal: the key is already taken by something that is not this content."""

    code = "motcua.storage_object_exists"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Khóa lưu trữ {key} đã được sử dụng; tài liệu đã lưu không thể bị ghi đè.",
            f"Storage key {key} is already in use; stored documents are never overwritten.",
            key=key,
        )


class WriteOnceViolation(Conflict):
    """A signed result (or any write-once object) may never be overwritten or deleted; the adapter refuses."""

    code = "motcua.storage_write_once"

    def __init__(self, key: str, operation: str) -> None:
        super().__init__(
            f"Tài liệu {key} là văn bản đã ký, chỉ được ghi một lần: không được ghi đè hoặc xóa.",
            f"Document {key} is a signed result, written once: it may not be overwritten or deleted "
            f"(refused: {operation}).",
            key=key,
            operation=operation,
        )


class ObjectMissing(NotFound):
    """No object is stored under the key."""

    code = "motcua.storage_object_missing"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Không tìm thấy tài liệu {key} trong kho lưu trữ.",
            f"Document {key} was not found in the document store.",
            key=key,
        )


class UploadTooLarge(TooLarge):
    """The upload exceeded the configured maximum size; nothing was stored."""

    code = "motcua.upload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Tệp tải lên vượt quá dung lượng tối đa cho phép ({_human_size(limit)}).",
            f"The upload exceeds the maximum allowed size ({_human_size(limit)}).",
            max_bytes=limit,
        )
