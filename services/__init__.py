"""Use cases by capability (intake, tasks and decisions, documents and issuing, signatures, late handling, fees,
receiving envelopes, statistics, catalogue, accounts, evidence); each given its collaborators explicitly.

Services see the domain core and the ports; the composition root (``motcua``) wires the adapters in.
"""
