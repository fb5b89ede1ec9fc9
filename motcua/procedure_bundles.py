"""A procedure in one file, so provinces can share what they author: ``motcua procedures export CODE`` writes the
catalogue entry, its application form, its result template and its BPMN process into one JSON document
(``motcua-procedure/1``); ``motcua procedures import FILE`` puts them into the agency's own catalogue
(``MOTCUA_CATALOGUE_DIR``: the entry and the BPMN file in it, the result template in its ``results/``, the form in
``forms/`` beside it — where the catalogue reads them).

The logic is the designer's (:mod:`services.procedure_design`: the pages use it too, and ``api`` never imports
``motcua``); these are the command line's wrappers, given the installation's settings. An import is checked whole
before anything is written; ``init`` then records the procedure and deploys its process.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from motcua.settings import Settings
from services.procedure_design import FORMAT, import_into_catalogue
from services.procedure_design import export_bundle as _export

__all__ = ["FORMAT", "export_bundle", "import_bundle"]


def export_bundle(settings: Settings, code: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """The procedure ``code`` as one JSON-ready document: its entry as written, its form, template and process."""
    from motcua.app import catalogue_files

    return _export(catalogue_files(settings), code, now or dt.datetime.now(dt.UTC))


def import_bundle(settings: Settings, bundle: Any, *, replace: bool = False) -> list[Path]:
    """Put a bundle's procedure into the agency's catalogue; every check first, then the files (their paths)."""
    from motcua.app import catalogue_files

    return import_into_catalogue(catalogue_files(settings), bundle, replace=replace)
