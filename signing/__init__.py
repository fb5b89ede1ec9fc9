"""PAdES signing and validation with pyHanko (DESIGN §7): the ``Signer`` and ``SignatureValidator`` adapters.

* :mod:`signing.api` — what the rest of the system programs against: key ids, the :class:`~signing.api.KeyProvider`
  protocol of server-side keys, the errors of the key providers;
* :mod:`signing.keys` — the key providers, one module each: PKCS#12 files, a PKCS#11 token, a CSC remote-signing
  service; and the loader that picks the server's provider from settings;
* :mod:`signing.certs` — certificates: ``cryptography`` ↔ ``asn1crypto``, DER/PEM, names, issuer chains, the checks
  of a signer's certificate; :mod:`signing.pdf` — the PDF side every signature shares (opening for an incremental
  update, field checks, metadata, running pyHanko);
* :mod:`signing.pki` — a development PKI (root → agency CA → agency and personal certificates, encrypted
  PKCS#12 files) for development, tests and the embedded default;
* :mod:`signing.pades` — :class:`PadesSigner` (agency seals: PAdES B-B, or B-T with a TSA; certification with
  DocMDP P=2) and :func:`create_signature_fields`; :mod:`signing.ltv` — the levels B-B to B-LTA;
  :mod:`signing.two_step` — personal signatures prepared on the server, signed on the signer's device
  (:mod:`signing.device`), embedded on the server;
* :mod:`signing.appearance`, :mod:`signing.fields` — the Decree 30 appearances and order of work;
* :mod:`signing.validate` — :class:`PadesValidator` with an ETSI EN 319 102-1 style overall indication,
  :func:`report_to_dict` (JSON) and :func:`format_report` (Vietnamese/English text); :mod:`signing.ades` — AdES
  validation reports with revocation data; :mod:`signing.cms` — detached CMS signatures over plain bytes.
"""

from signing.api import parse_key_id
from signing.pades import PadesSigner, create_signature_fields
from signing.pki import DEVELOPMENT_PASSPHRASE, DevelopmentPki, KeyMaterial
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
