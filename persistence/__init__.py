"""Persistence: the schema, the unit of work, counters, the audit-log store, the outboxes and the migrations.

Below the adapters and the use cases; above only the domain core (``dossiers``).
"""
