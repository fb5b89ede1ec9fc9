"""BPMN models (one per procedure, in ``bpmn/``), the BPMN lint, and the engine adapters behind the ``Engine`` port:
``embedded/`` (SpiffWorkflow, its state in the application database) and ``operaton/`` (a remote Operaton)."""

from pathlib import Path

BPMN_DIR = Path(__file__).resolve().parent / "bpmn"
