"""``python -m workflows.lint`` over files and folders on disk: the exit status and one line per problem. The rules
themselves are tested in tests/unit/test_bpmn_lint.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_bpmn_lint import bpmn
from workflows.lint import main

pytestmark = pytest.mark.integration


def test_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.bpmn"
    good.write_bytes(bpmn())
    bad = tmp_path / "sub" / "bad.bpmn"
    bad.parent.mkdir()
    bad.write_bytes(bpmn(process_attrs='isExecutable="true"'))
    assert main([str(good)]) == 0
    capsys.readouterr()
    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert "bad.bpmn" in out[0] and "[history-time-to-live]" in out[0]
