"""Adapters to the outside world: signed envelopes, notifications, payment gateways, OIDC.

They may use the domain core, documents, persistence, storage, signing and workflows; never the use cases
(``services``), the API, the workers or the composition root: a setting reaches an adapter as a constructor
argument.
"""
