"""Document-store adapters behind :class:`dossiers.ports.DocumentStore` (DESIGN §8).

Objects are content addressed (``<key_prefix>/<sha256>``), written once, never overwritten, and checked
against their SHA-256 and size on every read. Adapters: a local directory (the embedded default),
S3 through the MinIO SDK (:mod:`storage.s3`, imported on demand) and memory (unit tests);
:func:`storage.url.open_store` picks one from ``MOTCUA_STORAGE_URL``.
"""

from storage.errors import (
    IntegrityError,
    InvalidKey,
    ObjectExists,
    ObjectMissing,
    StorageError,
    UploadTooLarge,
    WriteOnceViolation,
)
from storage.local import (
    CHUNK_SIZE,
    MAX_KEY_LENGTH,
    LocalDocumentStore,
    ObjectInfo,
    ObjectVersion,
    VerifiedStream,
    is_write_once,
)
from storage.memory import MemoryDocumentStore

__all__ = [
    "CHUNK_SIZE",
    "MAX_KEY_LENGTH",
    "IntegrityError",
    "InvalidKey",
    "LocalDocumentStore",
    "MemoryDocumentStore",
    "ObjectExists",
    "ObjectInfo",
    "ObjectMissing",
    "ObjectVersion",
    "StorageError",
    "UploadTooLarge",
    "VerifiedStream",
    "WriteOnceViolation",
    "is_write_once",
]
