"""Domain core of Motcua: procedures, dossiers, agencies, calendar, codes and audit rules.

Pure Python: no web, database, storage, engine or signing library is imported here
(an import-linter contract in ``pyproject.toml`` enforces it).
"""
