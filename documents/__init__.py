"""The PDF documents Motcua produces (forms of Circular 01/2018/TT-VPCP and procedure results).

Pure rendering: data in, PDF bytes out; no database, no object store, no signing. Signatures are added
later (``signing``) into the free area that :data:`documents.layout.SIGNATURE_BOX` describes. The page layout
shared by every document is :mod:`documents.layout`.
"""
