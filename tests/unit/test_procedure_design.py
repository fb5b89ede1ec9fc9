"""The designer's pure parts (services/procedure_design.py): how a draft version is dated, how a shipped process is
copied under a procedure's own id, what a new procedure starts from, and the steps the desk relies on."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from documents.result_templates import check_template_text
from dossiers.form_schema import parse
from services.procedure_design import (
    approval_before_signature,
    dated,
    desk_steps,
    own_process_id,
    renamed_process,
    skeleton_bpmn,
    skeleton_form,
    skeleton_template,
)
from workflows.introspect import BPMN_NS, CAMUNDA_NS, process_ids
from workflows.lint import lint_bpmn

ROOT = Path(__file__).resolve().parents[2]
ISSUED = (ROOT / "workflows" / "bpmn" / "issued_document.bpmn").read_text(encoding="utf-8")


def test_the_draft_version_starts_on_the_publication_day_and_the_one_before_ends_the_day_before() -> None:
    entry = {"code": "9.999001", "versions": [{"valid_from": "2026-01-01"}, {"valid_from": "2026-03-01"}]}
    out = dated(entry, dt.date(2026, 5, 1))
    assert out["versions"] == [
        {"valid_from": "2026-01-01", "valid_to": "2026-04-30"},
        {"valid_from": "2026-05-01"},
    ]
    assert entry["versions"][0] == {"valid_from": "2026-01-01"}  # the draft itself is left as it was
    ended = {"versions": [{"valid_from": "2026-01-01", "valid_to": "2026-02-01"}, {"valid_from": "2026-03-01"}]}
    assert dated(ended, dt.date(2026, 5, 1))["versions"][0]["valid_to"] == "2026-02-01"  # ended before: kept


def test_a_copied_process_takes_the_procedures_own_id_and_stays_lint_clean() -> None:
    key = own_process_id("9.999001")
    assert key == "p_9_999001"
    copied = renamed_process(ISSUED, key, "Thủ tục của tỉnh")
    assert process_ids(copied.encode()) == [key]
    assert lint_bpmn(copied.encode(), name=f"{key}.bpmn") == []
    assert f'bpmnElement="{key}"' in copied and 'bpmnElement="issued_document"' not in copied
    assert re.search(r'<bpmn:message id="p_9_999001_msg_issued_supplement_received"', copied)
    assert desk_steps(copied.encode(), has_result=True) == []


def test_a_new_procedure_starts_from_parts_that_parse() -> None:
    xml = skeleton_bpmn("p_9_999002", "Thủ tục <mới> & thử")
    assert process_ids(xml.encode()) == ["p_9_999002"] and lint_bpmn(xml.encode(), name="p.bpmn") == []
    form, problems = parse(skeleton_form("9.999002", "Thủ tục mới"), "form")
    assert problems == [] and form is not None and [f.key for f in form.fields] == ["ho_ten"]
    template, found = check_template_text(json.dumps(skeleton_template("9.999002", "Thủ tục mới")), "t", ["ho_ten"])
    assert found == [] and template is not None
    # one start event prepares no result: the entry's result needs the result steps
    [problem] = desk_steps(xml.encode(), has_result=True)
    assert "không có bước 'result.prepare'" in problem


def test_the_desk_needs_the_leaders_signing_step_the_clerks_number_and_the_hand_over() -> None:
    to_clerk = re.sub(r'(id="sign_result"[^>]*candidateGroups=")leader"', r'\1clerk"', ISSUED)
    [problem] = desk_steps(to_clerk.encode(), has_result=True)
    assert "'sign_result' giao cho nhóm 'leader'" in problem
    no_return = ISSUED.replace('id="return_result"', 'id="hand_over"').replace(
        'targetRef="return_result"', 'targetRef="hand_over"'
    )
    no_return = no_return.replace('sourceRef="return_result"', 'sourceRef="hand_over"')
    assert any("'return_result'" in p for p in desk_steps(no_return.encode(), has_result=True))
    assert any("không có văn bản kết quả" in p for p in desk_steps(ISSUED.encode(), has_result=False))


def test_a_step_leading_straight_to_the_result_must_be_the_leaders_approval() -> None:
    """The desk asks whoever completes a step before the signature for a certificate and signs for ``approve_by``."""
    assert approval_before_signature(ISSUED.encode()) == []
    skipped = ISSUED.replace(
        'sourceRef="decision_gateway" targetRef="approve">', 'sourceRef="decision_gateway" targetRef="prepare_result">'
    )
    [problem] = approval_before_signature(skipped.encode())
    vi, en = problem.split(" / ", 1)
    assert "bước 'Thẩm định hồ sơ' (mã bước 'review', vai trò Chuyên viên)" in vi, vi
    assert "'Lãnh đạo phê duyệt' (mã bước 'approve', vai trò Lãnh đạo)" in vi and "'Lập văn bản kết quả'" in vi
    assert "step 'review'" in en
    by_specialist = re.sub(r'(id="approve"[^>]*candidateGroups=")leader"', r'\1specialist"', ISSUED)
    [problem] = approval_before_signature(by_specialist.encode())
    assert "(mã bước 'approve', vai trò Chuyên viên)" in problem
    # the result prepared with no step of a person before it: no one approved, no one to sign
    straight = f"""<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:camunda="{CAMUNDA_NS}" id="d">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="received" />
    <bpmn:sequenceFlow id="f1" sourceRef="received" targetRef="prepare_result" />
    <bpmn:serviceTask id="prepare_result" camunda:type="external" camunda:topic="result.prepare" />
    <bpmn:sequenceFlow id="f2" sourceRef="prepare_result" targetRef="sign_result" />
    <bpmn:userTask id="sign_result" camunda:candidateGroups="leader" />
  </bpmn:process>
</bpmn:definitions>"""
    [problem] = approval_before_signature(straight.encode())
    assert problem.startswith(
        "không có bước nào do cán bộ thực hiện dẫn tới chữ ký văn bản kết quả; trước bước 'Lập văn"
    )
