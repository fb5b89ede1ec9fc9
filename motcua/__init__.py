"""Motcua application layer: settings, database, services, CLI — the wiring around the domain core."""
