"""The portable BPMN rules (DESIGN §4): every shipped file lints clean, each rule catches its breakage,
and the condition language evaluates without ``eval``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workflows import BPMN_DIR
from workflows.expressions import (
    And,
    Compare,
    ConditionError,
    Const,
    Not,
    Or,
    UnknownVariableError,
    Var,
    evaluate_condition,
    parse_condition,
    variables_of,
)
from workflows.lint import RULES, LintProblem, lint_bpmn

BPMN_FILES = sorted(BPMN_DIR.rglob("*.bpmn"))

# ------------------------------------------------------------------------------------------- shipped files


def test_workflows_ship_bpmn_files() -> None:
    """Every procedure has a BPMN process in workflows/bpmn/; the lint below must have something to check."""
    assert BPMN_FILES, f"no *.bpmn file under {BPMN_DIR}"


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: str(p.relative_to(BPMN_DIR)))
def test_shipped_bpmn_lints_clean(path: Path) -> None:
    problems = lint_bpmn(path)
    assert problems == [], "\n".join(str(p) for p in problems)


# ------------------------------------------------------------------------------------------- snippets

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
    xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    {camunda} id="Definitions_1" targetNamespace="http://motcua.example/bpmn">
"""
CAMUNDA = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
PROCESS_ATTRS = 'isExecutable="true" camunda:historyTimeToLive="P3650D"'

VALID_BODY = """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:userTask id="review" name="Review" camunda:candidateGroups="specialist, leader" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="gw" />
    <bpmn:exclusiveGateway id="gw" default="f_other" />
    <bpmn:sequenceFlow id="f_ok" sourceRef="gw" targetRef="sign">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${decision == 'approve'}
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_other" sourceRef="gw" targetRef="wait" />
    <bpmn:serviceTask id="sign" camunda:type="external" camunda:topic="sign-result" />
    <bpmn:sequenceFlow id="f3" sourceRef="sign" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT4H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="wait" targetRef="due" />
    <bpmn:intermediateCatchEvent id="due">
      <bpmn:timerEventDefinition><bpmn:timeDate>${due_at}</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f5" sourceRef="due" targetRef="answer" />
    <bpmn:receiveTask id="answer" messageRef="Msg_answer" />
    <bpmn:sequenceFlow id="f6" sourceRef="answer" targetRef="partner" />
    <bpmn:callActivity id="partner" calledElement="partner_review">
      <bpmn:extensionElements>
        <camunda:in variables="all" />
        <camunda:out variables="all" />
      </bpmn:extensionElements>
    </bpmn:callActivity>
    <bpmn:sequenceFlow id="f7" sourceRef="partner" targetRef="end" />
    <bpmn:endEvent id="end" />
"""

_ELEMENT = re.compile(r'<bpmn:(\w+) id="(\w+)"')


def diagram(body: str, *, plane_of: str = "proc", leave_out: frozenset[str] = frozenset()) -> str:
    """A BPMN DI for ``body``: a shape per flow node and an edge per sequence flow (except ``leave_out``)."""
    parts = []
    for index, (kind, element_id) in enumerate(_ELEMENT.findall(body)):
        if element_id in leave_out:
            continue
        if kind == "sequenceFlow":
            parts.append(
                f'<bpmndi:BPMNEdge id="{element_id}_di" bpmnElement="{element_id}">'
                f'<di:waypoint x="{index * 100}" y="40" /><di:waypoint x="{index * 100 + 50}" y="40" />'
                "</bpmndi:BPMNEdge>"
            )
        else:
            parts.append(
                f'<bpmndi:BPMNShape id="{element_id}_di" bpmnElement="{element_id}">'
                f'<dc:Bounds x="{index * 100}" y="20" width="36" height="36" /></bpmndi:BPMNShape>'
            )
    shapes = "\n      ".join(parts)
    return f"""
  <bpmndi:BPMNDiagram id="diagram">
    <bpmndi:BPMNPlane id="plane" bpmnElement="{plane_of}">
      {shapes}
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
"""


def bpmn(
    body: str = VALID_BODY,
    *,
    camunda: str = CAMUNDA,
    process_attrs: str = PROCESS_ATTRS,
    extra: str = '<bpmn:message id="Msg_answer" name="partner-answer" />',
    di: str | None = None,
) -> bytes:
    text = (
        HEADER.format(camunda=camunda)
        + extra
        + f'\n  <bpmn:process id="proc" {process_attrs}>{body}  </bpmn:process>'
        + (diagram(body) if di is None else di)
        + "</bpmn:definitions>\n"
    )
    return text.encode()


def rules_of(problems: list[LintProblem]) -> set[str]:
    return {p.rule for p in problems}


def test_valid_snippet_is_clean_including_diagram_elements() -> None:
    assert lint_bpmn(bpmn(), name="valid.bpmn") == []


def swap(old: str, new: str) -> bytes:
    assert old in VALID_BODY, old
    return bpmn(VALID_BODY.replace(old, new))


BROKEN: dict[str, tuple[bytes, str, str]] = {
    # case: (document, expected rule, expected element id)
    "no camunda namespace": (
        bpmn(camunda="", process_attrs='isExecutable="true"', body='<bpmn:startEvent id="start" />'),
        "camunda-namespace",
        "Definitions_1",
    ),
    "wrong camunda namespace": (
        bpmn(camunda='xmlns:camunda="http://activiti.org/bpmn"'),
        "camunda-namespace",
        "Definitions_1",
    ),
    "not executable": (
        bpmn(process_attrs='isExecutable="false" camunda:historyTimeToLive="30"'),
        "process-executable",
        "proc",
    ),
    "no history ttl": (bpmn(process_attrs='isExecutable="true"'), "history-time-to-live", "proc"),
    "service task not external": (
        swap('camunda:type="external" camunda:topic="sign-result"', 'camunda:class="vn.Sign"'),
        "service-task",
        "sign",
    ),
    "service task expression topic": (
        swap('camunda:topic="sign-result"', 'camunda:topic="${topic}"'),
        "service-task",
        "sign",
    ),
    "service task delegate expression": (
        swap('camunda:topic="sign-result"', 'camunda:topic="sign" camunda:delegateExpression="${signer}"'),
        "service-task",
        "sign",
    ),
    "user task without groups": (
        swap(' camunda:candidateGroups="specialist, leader"', ""),
        "user-task-groups",
        "review",
    ),
    "user task with department name": (
        swap('camunda:candidateGroups="specialist, leader"', 'camunda:candidateGroups="phong_tu_phap"'),
        "user-task-groups",
        "review",
    ),
    "user task with group expression": (
        swap('camunda:candidateGroups="specialist, leader"', 'camunda:candidateGroups="${dept}"'),
        "user-task-groups",
        "review",
    ),
    "user task with assignee expression": (
        swap(
            'camunda:candidateGroups="specialist, leader"',
            'camunda:candidateGroups="leader" camunda:assignee="${boss}"',
        ),
        "user-task-assignment",
        "review",
    ),
    "script task": (
        swap(
            '<bpmn:endEvent id="end" />',
            '<bpmn:scriptTask id="end" scriptFormat="python"><bpmn:script>x=1</bpmn:script></bpmn:scriptTask>',
        ),
        "script-task",
        "end",
    ),
    "execution listener": (
        swap(
            '<bpmn:endEvent id="end" />',
            '<bpmn:endEvent id="end"><bpmn:extensionElements>'
            '<camunda:executionListener class="vn.X" event="start" />'
            "</bpmn:extensionElements></bpmn:endEvent>",
        ),
        "listener",
        "end",
    ),
    "task listener": (
        swap(
            '<bpmn:userTask id="review" name="Review" camunda:candidateGroups="specialist, leader" />',
            '<bpmn:userTask id="review" camunda:candidateGroups="leader"><bpmn:extensionElements>'
            '<camunda:taskListener event="create" expression="${x}" />'
            "</bpmn:extensionElements></bpmn:userTask>",
        ),
        "listener",
        "review",
    ),
    "io mapping": (
        swap(
            '<bpmn:serviceTask id="sign" camunda:type="external" camunda:topic="sign-result" />',
            '<bpmn:serviceTask id="sign" camunda:type="external" camunda:topic="sign-result">'
            "<bpmn:extensionElements><camunda:inputOutput>"
            '<camunda:inputParameter name="a">1</camunda:inputParameter></camunda:inputOutput>'
            "</bpmn:extensionElements></bpmn:serviceTask>",
        ),
        "io-mapping",
        "sign",
    ),
    "condition with method call": (
        swap("${decision == 'approve'}", "${decision.equals('approve')}"),
        "condition",
        "f_ok",
    ),
    "condition without ${}": (swap("${decision == 'approve'}", "decision == 'approve'"), "condition", "f_ok"),
    "script condition": (
        swap('xsi:type="bpmn:tFormalExpression"', 'xsi:type="bpmn:tFormalExpression" language="groovy"'),
        "condition",
        "f_ok",
    ),
    "gateway flow without condition": (swap('default="f_other"', ""), "gateway-default", "f_other"),
    "gateway default names another flow": (
        swap('default="f_other"', 'default="f3"'),
        "gateway-default",
        "gw",
    ),
    "timer duration not iso": (swap("PT4H", "4 hours"), "timer", "wait"),
    "timer duration expression": (swap("PT4H", "${hours * 2}"), "timer", "wait"),
    "timer date without offset": (swap("${due_at}", "2026-01-01T00:00:00"), "timer", "due"),
    "timer cron cycle": (
        swap("<bpmn:timeDuration>PT4H</bpmn:timeDuration>", "<bpmn:timeCycle>0 0 9 * * ?</bpmn:timeCycle>"),
        "timer",
        "wait",
    ),
    "message ref missing": (swap('messageRef="Msg_answer"', 'messageRef="Msg_nope"'), "message", "answer"),
    "message name expression": (
        bpmn(extra='<bpmn:message id="Msg_answer" name="${name}" />'),
        "message",
        "Msg_answer",
    ),
    "call activity without variables": (
        swap('<camunda:out variables="all" />', ""),
        "call-activity",
        "partner",
    ),
    "call activity with expression": (
        swap(
            '<camunda:in variables="all" />',
            '<camunda:in variables="all" /><camunda:in sourceExpression="${x}" target="y" />',
        ),
        "call-activity",
        "partner",
    ),
    "no diagram": (bpmn(di=""), "diagram", "proc"),
    "diagram of another process": (bpmn(di=diagram(VALID_BODY, plane_of="other")), "diagram", "proc"),
    "flow node without a shape": (
        bpmn(di=diagram(VALID_BODY, leave_out=frozenset({"review"}))),
        "diagram",
        "review",
    ),
    "sequence flow without an edge": (
        bpmn(di=diagram(VALID_BODY, leave_out=frozenset({"f_ok"}))),
        "diagram",
        "f_ok",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_rule_reports_its_breakage(case: str) -> None:
    document, rule, element_id = BROKEN[case]
    problems = lint_bpmn(document, name=f"{case}.bpmn")
    assert rule in RULES
    assert rule in rules_of(problems), "\n".join(map(str, problems)) or "no problem reported"
    assert any(p.rule == rule and p.element_id == element_id for p in problems), "\n".join(map(str, problems))
    assert all(p.file == f"{case}.bpmn" for p in problems)


@pytest.mark.parametrize(
    "text",
    ["P3D", "PT4H", "P1Y2M3DT4H5M6.5S", "PT30M", "${deadline}", "${ deadline }"],
)
def test_timer_durations_accepted(text: str) -> None:
    assert lint_bpmn(swap("PT4H", text)) == []


@pytest.mark.parametrize("text", ["2026-01-01T00:00:00+07:00", "2026-01-01T08:30Z", "2026-02-28T17:00:00.5+07:00"])
def test_timer_dates_accepted(text: str) -> None:
    assert lint_bpmn(swap("${due_at}", text)) == []


@pytest.mark.parametrize("text", ["R3/PT1H", "R/P1D", "R2/2026-01-01T00:00:00+07:00/P1D"])
def test_timer_cycles_accepted(text: str) -> None:
    doc = swap("<bpmn:timeDuration>PT4H</bpmn:timeDuration>", f"<bpmn:timeCycle>{text}</bpmn:timeCycle>")
    assert lint_bpmn(doc) == []


@pytest.mark.parametrize("text", ["P", "PT", "P1W", "3D", "P1.5D", "PT4H ${x}", "2026-13-01T00:00:00+07:00"])
def test_bad_timer_texts_rejected(text: str) -> None:
    kind = "timeDate" if text.startswith("2026") else "timeDuration"
    doc = swap("<bpmn:timeDuration>PT4H</bpmn:timeDuration>", f"<bpmn:{kind}>{text}</bpmn:{kind}>")
    assert rules_of(lint_bpmn(doc)) == {"timer"}


def test_not_xml_and_not_bpmn() -> None:
    assert rules_of(lint_bpmn(b"<bpmn:definitions")) == {"xml"}
    assert rules_of(lint_bpmn(b"<html/>")) == {"xml"}


def test_gateway_join_needs_no_condition() -> None:
    assert (
        lint_bpmn(
            swap('<bpmn:sequenceFlow id="f_other" sourceRef="gw" targetRef="wait" />', "").replace(
                b' default="f_other"', b""
            )
        )
        == []
    )


def test_diagram_problems_name_each_missing_element_in_vietnamese_first() -> None:
    missing = frozenset({"gw", "wait", "f3"})
    problems = lint_bpmn(bpmn(di=diagram(VALID_BODY, leave_out=missing)), name="x.bpmn")
    assert {p.element_id for p in problems} == missing and rules_of(problems) == {"diagram"}
    by_id = {p.element_id: p.message for p in problems}
    assert by_id["gw"].startswith("bước 'gw' (exclusiveGateway) không có hình (BPMNShape) trong sơ đồ / ")
    assert by_id["f3"].startswith("luồng 'f3' không có đường vẽ (BPMNEdge) trong sơ đồ / ")
    [whole] = lint_bpmn(bpmn(di=""), name="x.bpmn")
    assert whole.message.startswith("quy trình 'proc' không có sơ đồ (BPMNDiagram/BPMNPlane)")
    assert "tools/bpmn/layout.mjs" in whole.message


def test_problem_line_format() -> None:
    problem = lint_bpmn(swap("PT4H", "soon"), name="x.bpmn")[0]
    assert str(problem).startswith("x.bpmn:")
    assert "wait: [timer]" in str(problem)
    assert problem.message == (
        "'soon' không phải khoảng thời gian theo ISO-8601, hãy ghi như P3D (3 ngày) hoặc PT4H (4 giờ) / "
        "'soon' is not an ISO-8601 duration like P3D or PT4H"
    )


VIETNAMESE_LETTERS = re.compile(r"[ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ]")


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_problem_is_written_in_vietnamese_then_english(case: str) -> None:
    """The designer and the catalogue page show the part before " / ": it must be Vietnamese."""
    document, _, _ = BROKEN[case]
    for problem in lint_bpmn(document, name=f"{case}.bpmn"):
        vi, en = problem.message.rsplit(" / ", 1)
        assert VIETNAMESE_LETTERS.search(vi), problem.message
        assert not VIETNAMESE_LETTERS.search(en), problem.message


# ------------------------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("${decision == 'approve'}", {"decision": "approve"}, True),
        ("${decision == 'approve'}", {"decision": "refuse"}, False),
        ('${decision != "approve"}', {"decision": "refuse"}, True),
        ("${amount >= 3 and not late}", {"amount": 3, "late": False}, True),
        ("${amount >= 3 and not late}", {"amount": 2.5, "late": False}, False),
        ("${amount >= 3 and not late}", {"amount": 5, "late": True}, False),
        ('${a == "x" || b != 2}', {"a": "y", "b": 3}, True),
        ('${a == "x" || b != 2}', {"a": "y", "b": 2}, False),
        ('${a == "x" || b != 2}', {"a": "x", "b": 2}, True),
        ("${ok && !late}", {"ok": True, "late": False}, True),
        ("${approved}", {"approved": True}, True),
        ("${true}", {}, True),
        ("${x < -1}", {"x": -2}, True),
        ("${name > 'a' and name <= 'c'}", {"name": "b"}, True),
        ("${note == 'it\\'s }'}", {"note": "it's }"}, True),
        ("${missing == 'x'}", {"missing": None}, False),
    ],
)
def test_evaluate_condition(text: str, variables: dict[str, object], expected: bool) -> None:
    assert evaluate_condition(text, variables) is expected


def test_precedence_follows_juel() -> None:
    # or < and < == != < relational < not
    assert parse_condition("${a or b and c}") == Or(Var("a"), And(Var("b"), Var("c")))
    assert parse_condition("${a and b or c}") == Or(And(Var("a"), Var("b")), Var("c"))
    assert parse_condition("${not a == b}") == Compare("==", Not(Var("a")), Var("b"))
    assert parse_condition("${x < 1 == y}") == Compare("==", Compare("<", Var("x"), Const(1)), Var("y"))
    values = {"a": True, "b": False, "c": False}
    assert evaluate_condition("${a or b and c}", values) is True
    assert evaluate_condition("${(a or b) and c}", values) is False


def test_parentheses() -> None:
    assert parse_condition("${not (a and b)}") == Not(And(Var("a"), Var("b")))
    assert evaluate_condition("${not (a and b)}", {"a": True, "b": False}) is True
    assert evaluate_condition("${((x == 1))}", {"x": 1}) is True
    assert variables_of(parse_condition("${a == 1 and (b or not c)}")) == {"a", "b", "c"}


def test_unknown_variable_is_named() -> None:
    with pytest.raises(UnknownVariableError, match="'late'") as info:
        evaluate_condition("${amount >= 3 and not late}", {"amount": 4})
    assert info.value.name == "late"
    assert isinstance(info.value, ConditionError)


def test_short_circuit_skips_unknown_variable() -> None:
    assert evaluate_condition("${done or late}", {"done": True}) is True
    assert evaluate_condition("${done and late}", {"done": False}) is False


@pytest.mark.parametrize(
    "text",
    [
        "${x.foo()}",
        "${__import__('os')}",
        "${x + 1}",
        "${x - 1}",
        "${x = 1}",
        "${x == }",
        "${(x == 1}",
        "${x == 1)}",
        "${}",
        "x == 1",
        "#{x == 1}",
        "${x == 'open}",
        "${null == x}",
        "${empty x}",
        "${x eq 1}",
        "${x[0] == 1}",
        "${1x == 1}",
        "${x & y}",
    ],
)
def test_rejected_syntax(text: str) -> None:
    with pytest.raises(ConditionError):
        parse_condition(text)


@pytest.mark.parametrize(
    ("text", "variables"),
    [
        ("${not amount}", {"amount": 3}),
        ("${amount and true}", {"amount": 1}),
        ("${amount == '3'}", {"amount": 3}),
        ("${flag == 1}", {"flag": True}),
        ("${amount < 'x'}", {"amount": 3}),
        ("${decision}", {"decision": "approve"}),
        ("${items == 1}", {"items": [1]}),
    ],
)
def test_type_errors_are_condition_errors(text: str, variables: dict[str, object]) -> None:
    with pytest.raises(ConditionError):
        evaluate_condition(text, variables)
