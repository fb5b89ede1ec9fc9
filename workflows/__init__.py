"""BPMN models (one per procedure), the BPMN lint, and the engine adapters behind the ``Engine`` port."""

from pathlib import Path

BPMN_DIR = Path(__file__).resolve().parent
