"""Document-store adapters behind :class:`dossiers.ports.DocumentStore` (DESIGN §8), in pyHanko's manner: an
interface module beside one module per implementation.

Objects are content addressed (``<key_prefix>/<sha256>``), written once, never overwritten, and checked
against their SHA-256 and size on every read. :mod:`storage.api` holds what every adapter shares (key
layout, the records a store describes, the one integrity check, the common base); the adapters are a local
directory (:mod:`storage.local`, the embedded default), S3 through the MinIO SDK (:mod:`storage.s3`, imported
on demand) and memory (:mod:`storage.memory`, unit tests). :func:`storage.url.open_store` picks one from
``MOTCUA_STORAGE_URL``; :mod:`storage.check` is ``motcua storage check``; :mod:`storage.errors` the errors
they raise.
"""
