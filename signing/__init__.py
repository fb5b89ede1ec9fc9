"""PAdES signing and validation with pyHanko (DESIGN §7): the ``Signer`` and ``SignatureValidator`` adapters.

* :mod:`signing.pki` — a development PKI (root → agency CA → agency and personal certificates, encrypted
  PKCS#12 files) for development, tests and the embedded default;
* :mod:`signing.pades` — :class:`PadesSigner` (PAdES B-B, incremental updates, certification with DocMDP P=2)
  and :func:`create_signature_fields`;
* :mod:`signing.validate` — :class:`PadesValidator` with an ETSI EN 319 102-1 style overall indication,
  :func:`report_to_dict` (JSON) and :func:`format_report` (Vietnamese/English text).

Later issues add timestamps (B-T/B-LT/B-LTA), revocation checking, PKCS#11 and remote (CSC) signing, and the
Decree 30/2020 appearances.
"""

from signing.pades import PadesSigner, create_signature_fields
from signing.pki import DEVELOPMENT_PASSPHRASE, DevelopmentPki, KeyMaterial, parse_key_id
from signing.validate import PadesValidator, format_report, report_to_dict, summarize

__all__ = [
    "DEVELOPMENT_PASSPHRASE",
    "DevelopmentPki",
    "KeyMaterial",
    "PadesSigner",
    "PadesValidator",
    "create_signature_fields",
    "format_report",
    "parse_key_id",
    "report_to_dict",
    "summarize",
]
