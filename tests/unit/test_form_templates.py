"""Form templates as data (documents/templates/*.json): the shipped ones are valid and complete. Edited copies,
overrides and the new forms read back with poppler: tests/integration/test_form_templates.py."""

from __future__ import annotations

from documents.templating import DEFAULT_DIR, SPEC, validate_templates


def test_shipped_templates_are_valid_and_complete() -> None:
    assert validate_templates() == []
    assert sorted(p.stem for p in DEFAULT_DIR.glob("*.json")) == sorted(SPEC)
