"""bpmn.io's own lint (``bpmnlint``, the recommended rules; tools/bpmn/.bpmnlintrc) passes on every shipped BPMN
file: the files open cleanly in Camunda Modeler and draw in Operaton Cockpit. The real node tool runs here, installed
by ``make install`` (``npm ci`` in tools/bpmn); without it the test skips on a developer's machine and FAILS in CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.services import service_missing
from workflows import BPMN_DIR

pytestmark = pytest.mark.integration

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "bpmn"
BPMNLINT = TOOLS / "node_modules" / ".bin" / "bpmnlint"
# one finding per line: "  element_id  error|warning  message  rule-name"
FINDING = re.compile(r"^\s+\S+\s+(error|warning)\s+")


def _bpmnlint(*files: Path) -> subprocess.CompletedProcess[str]:
    missing = [what for what, ok in (("node", shutil.which("node")), (str(BPMNLINT), BPMNLINT.exists())) if not ok]
    if missing:
        service_missing(f"bpmnlint cannot run: {', '.join(missing)} missing (make install runs npm ci in tools/bpmn)")
    return subprocess.run(
        [str(BPMNLINT), "--config", str(TOOLS / ".bpmnlintrc"), *map(str, files)],
        cwd=TOOLS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
    )


def _findings(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if FINDING.match(line)]


def test_every_shipped_bpmn_file_is_bpmnlint_clean() -> None:
    files = sorted(BPMN_DIR.glob("*.bpmn"))
    assert files
    result = _bpmnlint(*files)
    assert _findings(result.stdout + result.stderr) == []
    assert result.returncode == 0, result.stdout + result.stderr


def test_bpmnlint_reports_a_file_without_its_diagram(tmp_path: Path) -> None:
    """The same run on a file whose diagram was taken out: the tool really checks (no-bpmndi per element)."""
    text = (BPMN_DIR / "joint_partner.bpmn").read_text(encoding="utf-8")
    bare = tmp_path / "joint_partner.bpmn"
    bare.write_text(re.sub(r"<bpmndi:BPMNDiagram\b.*</bpmndi:BPMNDiagram>", "", text, flags=re.S), encoding="utf-8")
    result = _bpmnlint(bare)
    findings = _findings(result.stdout)
    assert result.returncode != 0
    assert any(f.startswith("partner_step ") and f.endswith("no-bpmndi") for f in findings), result.stdout
