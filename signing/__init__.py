"""PAdES signing and validation with pyHanko (Decree 30/2020 stamps, agency seal, personal signatures).

Empty for now: the first-procedure issue adds the ``Signer`` port's first adapter here.
"""
