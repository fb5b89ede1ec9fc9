"""Signed envelopes between Motcua installations: the wire format (:mod:`.manifest`), the partner agencies and
the check of their signatures (:mod:`.partners`), and posting an envelope to a partner (:mod:`.sender`).

Who sends and receives envelopes — the outbox, the receiver's rules — is :mod:`services.exchange` and
:mod:`services.receiving`.
"""
