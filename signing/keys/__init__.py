"""Where the keys are, one module each (the interface is :class:`signing.api.KeyProvider`):

* :mod:`signing.keys.pkcs12` — agency seals from the development PKI's encrypted PKCS#12 files;
* :mod:`signing.keys.pkcs11` — agency seals on a PKCS#11 token or HSM (SoftHSM2 in tests);
* :mod:`signing.keys.csc` — personal signatures by a remote-signing service (CSC API), the key staying there;
* :mod:`signing.keys.loader` — :func:`~signing.keys.loader.load_key_provider`, the server's provider from settings.
"""
