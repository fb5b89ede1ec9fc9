"""Document-store adapters behind :class:`dossiers.ports.DocumentStore` (DESIGN §8).

Objects are content addressed (``<key_prefix>/<sha256>``), written once, never overwritten or deleted,
and checked against their SHA-256 and size on every read.
"""

from storage.errors import (
    IntegrityError,
    InvalidKey,
    ObjectExists,
    ObjectMissing,
    StorageError,
    UploadTooLarge,
)
from storage.local import CHUNK_SIZE, MAX_KEY_LENGTH, LocalDocumentStore, VerifiedStream
from storage.memory import MemoryDocumentStore

__all__ = [
    "CHUNK_SIZE",
    "MAX_KEY_LENGTH",
    "IntegrityError",
    "InvalidKey",
    "LocalDocumentStore",
    "MemoryDocumentStore",
    "ObjectExists",
    "ObjectMissing",
    "StorageError",
    "UploadTooLarge",
    "VerifiedStream",
]
