"""Lint BPMN files against Motcua's portable rules (DESIGN §4): one file must run on both engines.

The embedded engine (SpiffWorkflow driven like a small Camunda) and Operaton must read a process the same
way, so only a small, explicit subset of Camunda-flavoured BPMN is allowed: external service tasks by
topic, user tasks by role, conditions in the grammar of :mod:`workflows.expressions`, ISO-8601 timers,
messages by literal name, call activities passing all variables — and no scripts, listeners, I/O mappings
or Java delegates. Every process carries its diagram (BPMN DI: a shape per flow node, an edge per sequence flow),
so Camunda Modeler, Operaton Cockpit and the dossier's diagram page draw the file as it is; the layout is generated
once with ``node tools/bpmn/layout.mjs FILE`` and kept in the file.

Usage::

    python -m workflows.lint FILE_OR_DIR...     # one line per problem, exit status 1 if any

or, from Python, :func:`lint_bpmn` (a path or the document's bytes) → ``list[LintProblem]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from dossiers.model import Role
from dossiers.problems import bilingual
from workflows.expressions import ConditionError, parse_condition
from workflows.introspect import BPMN_NS, CAMUNDA_NS, NOT_FLOW_NODES

__all__ = [
    "KNOWN_ROLES",
    "RULES",
    "LintProblem",
    "lint_bpmn",
    "lint_paths",
    "main",
]

OPERATON_NS = "http://operaton.org/schema/1.0/bpmn"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"

KNOWN_ROLES: frozenset[str] = frozenset(role.value for role in Role)
"""Candidate groups name roles; each agency maps roles to its own departments (never department names)."""
_ROLE_LIST = ", ".join(sorted(KNOWN_ROLES))

RULES: dict[str, str] = {
    "xml": "the file is well-formed XML with a bpmn:definitions root",
    "camunda-namespace": 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" is declared; no operaton:',
    "process-executable": 'every bpmn:process has isExecutable="true"',
    "history-time-to-live": "every bpmn:process has camunda:historyTimeToLive",
    "service-task": 'service tasks are camunda:type="external" with a literal camunda:topic; no Java '
    "class, expression, delegateExpression or connector",
    "user-task-groups": "user tasks have literal camunda:candidateGroups naming known roles",
    "user-task-assignment": "no expression in camunda:assignee / camunda:candidateUsers",
    "script-task": "no script tasks",
    "listener": "no camunda:executionListener / camunda:taskListener",
    "io-mapping": "no camunda:inputOutput",
    "condition": "sequence-flow conditions are ${…} in the portable grammar (workflows.expressions)",
    "gateway-default": "every outgoing flow of an exclusive gateway has a condition, except its default",
    "timer": "timer texts are ISO-8601 literals (P3D, PT4H, 2026-01-01T00:00:00+07:00, R3/PT1H) or ${var}",
    "message": "message events and receive tasks reference a bpmn:message with a literal name",
    "call-activity": 'call activities have a literal calledElement and camunda:in/out variables="all"',
    "diagram": "every process has a BPMNDiagram/BPMNPlane with a shape per flow node and an edge per sequence flow",
}


@dataclass(frozen=True, slots=True)
class LintProblem:
    """One broken rule: ``rule`` is a key of :data:`RULES`; ``element_id`` is "" for file-level problems;
    ``message`` is "Vietnamese / English" (:mod:`dossiers.problems`)."""

    file: str
    element_id: str
    rule: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.element_id or '-'}: [{self.rule}] {self.message}"


def _b(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def _c(name: str) -> str:
    return f"{{{CAMUNDA_NS}}}{name}"


def _di(tag: str) -> str:
    return f"{{{BPMNDI_NS}}}{tag}"


_SERVICE_LIKE = ("serviceTask", "sendTask", "businessRuleTask")
_DELEGATE_ATTRS = ("class", "expression", "delegateExpression", "resultVariable", "decisionRef")
_VAR_REF = re.compile(r"\$\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}")
_DURATION = re.compile(
    r"P(?=[0-9T])(?:[0-9]+Y)?(?:[0-9]+M)?(?:[0-9]+D)?"
    r"(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:[.,][0-9]+)?S)?)?"
)
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})?"
)
_CYCLE = re.compile(r"R(?:[0-9]+)?/(?:(?P<start>[^/]+)/)?(?P<duration>[^/]+)")


def _is_expression(value: str) -> bool:
    return "${" in value or "#{" in value


class _Linter:
    def __init__(self, file: str, root: etree._Element) -> None:
        self.file = file
        self.root = root
        self.problems: list[LintProblem] = []

    # -------------------------------------------------------------------------------- helpers

    def report(self, el: etree._Element | None, rule: str, vi: str, en: str) -> None:
        element_id = ""
        line: int | None = None
        if el is not None:
            line = el.sourceline
            node: etree._Element | None = el
            while node is not None and not node.get("id"):
                node = node.getparent()
            element_id = node.get("id", "") if node is not None else ""
        self.problems.append(LintProblem(self.file, element_id, rule, bilingual(vi, en), line))

    def iter_bpmn(self, *tags: str) -> Iterator[etree._Element]:
        yield from self.root.iter(*(_b(tag) for tag in tags))

    # -------------------------------------------------------------------------------- rules

    def run(self) -> list[LintProblem]:
        self.check_namespace()
        self.check_processes()
        self.check_service_tasks()
        self.check_user_tasks()
        self.check_forbidden_constructs()
        self.check_conditions()
        self.check_exclusive_gateways()
        self.check_timers()
        self.check_messages()
        self.check_call_activities()
        self.check_diagram()
        self.problems.sort(key=lambda p: (p.line or 0, p.rule))
        return self.problems

    def check_namespace(self) -> None:
        declared = self.root.nsmap.get("camunda")
        if declared is None:
            self.report(
                self.root,
                "camunda-namespace",
                f'tệp chưa khai báo xmlns:camunda="{CAMUNDA_NS}"',
                f'xmlns:camunda="{CAMUNDA_NS}" is not declared',
            )
        elif declared != CAMUNDA_NS:
            self.report(
                self.root,
                "camunda-namespace",
                f"tiền tố camunda đang gắn với {declared!r}, phải là {CAMUNDA_NS!r}",
                f"the camunda prefix is bound to {declared!r}, expected {CAMUNDA_NS!r}",
            )
        for el in self.root.iter():
            if not isinstance(el.tag, str):
                continue  # comments, processing instructions
            names = [el.tag, *el.attrib.keys()]
            if any(str(name).startswith(f"{{{OPERATON_NS}}}") for name in names):
                self.report(
                    el,
                    "camunda-namespace",
                    "phần mở rộng operaton: không chạy được trên cả hai bộ máy quy trình; hãy dùng camunda:",
                    "operaton: extensions are not portable; use camunda:",
                )

    def check_processes(self) -> None:
        for process in self.iter_bpmn("process"):
            if process.get("isExecutable") != "true":
                self.report(
                    process,
                    "process-executable",
                    'quy trình phải ghi isExecutable="true"',
                    'the process needs isExecutable="true"',
                )
            if not (process.get(_c("historyTimeToLive")) or "").strip():
                self.report(
                    process,
                    "history-time-to-live",
                    "quy trình thiếu camunda:historyTimeToLive (thời gian lưu lịch sử)",
                    "camunda:historyTimeToLive is missing",
                )

    def check_service_tasks(self) -> None:
        for task in self.iter_bpmn(*_SERVICE_LIKE):
            kind = etree.QName(task).localname
            if task.get(_c("type")) != "external":
                self.report(
                    task,
                    "service-task",
                    f'bước tự động ({kind}) phải ghi camunda:type="external"',
                    f'{kind} needs camunda:type="external"',
                )
            topic = task.get(_c("topic"))
            if topic is None or not topic.strip():
                self.report(
                    task,
                    "service-task",
                    f"bước tự động ({kind}) phải ghi camunda:topic (chủ đề của bộ xử lý)",
                    f"{kind} needs a camunda:topic",
                )
            elif _is_expression(topic):
                self.report(
                    task,
                    "service-task",
                    f"camunda:topic phải ghi tên chủ đề cố định, không dùng biểu thức {topic!r}",
                    f"camunda:topic must be a literal, not {topic!r}",
                )
            for connector in task.iter(_c("connector")):
                self.report(
                    connector,
                    "service-task",
                    "không được dùng camunda:connector; hãy dùng bước tự động do bộ xử lý thực hiện (external task)",
                    "camunda:connector is not allowed; use an external task",
                )
        # Java delegates, expressions and DMN references are not portable anywhere (message throw events too).
        for el in self.root.iter():
            if not isinstance(el.tag, str) or not el.tag.startswith(f"{{{BPMN_NS}}}"):
                continue
            for attr in _DELEGATE_ATTRS:
                if el.get(_c(attr)) is not None:
                    self.report(
                        el,
                        "service-task",
                        f"không được dùng camunda:{attr}; việc xử lý do bộ xử lý thực hiện (external task)",
                        f"camunda:{attr} is not allowed; logic belongs in workers (external tasks)",
                    )

    def check_user_tasks(self) -> None:
        for task in self.iter_bpmn("userTask"):
            groups = task.get(_c("candidateGroups"))
            if groups is None or not groups.strip():
                self.report(
                    task,
                    "user-task-groups",
                    "bước do cán bộ xử lý phải ghi camunda:candidateGroups là một vai trò",
                    "user task needs camunda:candidateGroups naming a role",
                )
            elif _is_expression(groups):
                self.report(
                    task,
                    "user-task-groups",
                    f"camunda:candidateGroups phải ghi tên vai trò cố định, không dùng biểu thức {groups!r}",
                    f"camunda:candidateGroups must be literal, not {groups!r}",
                )
            else:
                for group in (g.strip() for g in groups.split(",")):
                    if group not in KNOWN_ROLES:
                        self.report(
                            task,
                            "user-task-groups",
                            f"nhóm xử lý {group!r} không phải là vai trò của cơ quan; chọn một trong: {_ROLE_LIST}",
                            f"candidate group {group!r} is not a known role ({_ROLE_LIST})",
                        )
            for attr in ("assignee", "candidateUsers"):
                value = task.get(_c(attr))
                if value is not None and _is_expression(value):
                    self.report(
                        task,
                        "user-task-assignment",
                        f"camunda:{attr} không được là biểu thức ({value!r}); hệ thống tự giao việc cho cán bộ",
                        f"camunda:{attr} must not be an expression ({value!r}); the application assigns",
                    )

    def check_forbidden_constructs(self) -> None:
        for task in self.iter_bpmn("scriptTask"):
            self.report(
                task,
                "script-task",
                "không được dùng bước chạy mã lệnh (scriptTask); việc xử lý do bộ xử lý thực hiện",
                "script tasks are not allowed; logic belongs in workers",
            )
        for listener in self.root.iter(_c("executionListener"), _c("taskListener")):
            name = etree.QName(listener).localname
            self.report(
                listener,
                "listener",
                f"không được dùng camunda:{name}; việc xử lý do bộ xử lý thực hiện",
                f"camunda:{name} is not allowed; logic belongs in workers",
            )
        for mapping in self.root.iter(_c("inputOutput")):
            self.report(
                mapping,
                "io-mapping",
                "không được dùng camunda:inputOutput; việc xử lý do bộ xử lý thực hiện",
                "camunda:inputOutput is not allowed; logic belongs in workers",
            )

    def check_conditions(self) -> None:
        for flow in self.iter_bpmn("sequenceFlow"):
            for cond in flow.iter(_b("conditionExpression")):
                if cond.get("language"):
                    self.report(
                        flow,
                        "condition",
                        f"không được viết điều kiện bằng mã lệnh (language={cond.get('language')!r})",
                        f"script conditions (language={cond.get('language')!r}) are not allowed",
                    )
                    continue
                text = (cond.text or "").strip()
                if not text:
                    self.report(
                        flow,
                        "condition",
                        "điều kiện của luồng (conditionExpression) để trống",
                        "empty conditionExpression",
                    )
                    continue
                try:
                    parse_condition(text)
                except ConditionError as exc:
                    self.report(
                        flow,
                        "condition",
                        f"điều kiện {text!r} không đúng cú pháp điều kiện dùng chung, ví dụ ${{decision == 'approve'}}",
                        str(exc),
                    )

    def check_exclusive_gateways(self) -> None:
        outgoing: dict[str, list[etree._Element]] = {}
        for flow in self.iter_bpmn("sequenceFlow"):
            outgoing.setdefault(flow.get("sourceRef", ""), []).append(flow)
        for gateway in self.iter_bpmn("exclusiveGateway"):
            flows = outgoing.get(gateway.get("id", ""), [])
            default = gateway.get("default")
            if default is not None and default not in {f.get("id") for f in flows}:
                self.report(
                    gateway,
                    "gateway-default",
                    f"luồng mặc định {default!r} không đi ra từ cổng rẽ nhánh này",
                    f"default flow {default!r} does not leave this gateway",
                )
            if len(flows) < 2:
                continue
            for flow in flows:
                has_condition = any((c.text or "").strip() for c in flow.iter(_b("conditionExpression")))
                if flow.get("id") == default:
                    if has_condition:
                        self.report(
                            flow,
                            "gateway-default",
                            "luồng mặc định của cổng rẽ nhánh không được có điều kiện",
                            "the gateway's default flow must not carry a condition",
                        )
                elif not has_condition:
                    self.report(
                        flow,
                        "gateway-default",
                        f"luồng đi ra từ cổng rẽ nhánh {gateway.get('id')!r} chưa có điều kiện và không phải luồng "
                        "mặc định của cổng",
                        f"flow leaving exclusive gateway {gateway.get('id')!r} has no condition and is not "
                        "the gateway's default",
                    )

    def check_timers(self) -> None:
        for timer in self.iter_bpmn("timerEventDefinition"):
            specs = [child for child in timer if isinstance(child.tag, str) and child.tag in _TIMER_KINDS]
            if len(specs) != 1:
                self.report(
                    timer,
                    "timer",
                    "bộ hẹn giờ phải có đúng một trong timeDate, timeDuration, timeCycle",
                    "a timer needs exactly one of timeDate, timeDuration, timeCycle",
                )
            for spec in specs:
                kind = etree.QName(spec).localname
                text = (spec.text or "").strip()
                error = _timer_error(kind, text)
                if error:
                    self.report(spec, "timer", *error)

    def check_messages(self) -> None:
        messages = {m.get("id"): m for m in self.iter_bpmn("message")}
        for message in messages.values():
            name = message.get("name")
            if name is None or not name.strip():
                self.report(
                    message,
                    "message",
                    "bpmn:message phải có tên (name): tin nhắn được nhận theo tên",
                    "bpmn:message needs a name (messages correlate by name)",
                )
            elif _is_expression(name):
                self.report(
                    message,
                    "message",
                    f"tên tin nhắn phải cố định, không dùng biểu thức {name!r}",
                    f"message name must be a literal, not {name!r}",
                )
        for el in self.iter_bpmn("messageEventDefinition", "receiveTask"):
            ref = el.get("messageRef")
            if el.tag == _b("messageEventDefinition") and _throws(el) and ref is None:
                continue  # a throw event sends through its external task; no message needed
            if ref is None:
                self.report(el, "message", "thiếu messageRef (tin nhắn được chờ)", "messageRef is missing")
            elif ref.split(":")[-1] not in messages:
                self.report(
                    el,
                    "message",
                    f"messageRef {ref!r} không trỏ tới bpmn:message nào trong tệp",
                    f"messageRef {ref!r} names no bpmn:message",
                )

    def check_call_activities(self) -> None:
        for call in self.iter_bpmn("callActivity"):
            called = call.get("calledElement")
            if called is None or not called.strip():
                self.report(
                    call, "call-activity", "thiếu calledElement (quy trình được gọi)", "calledElement is missing"
                )
            elif _is_expression(called):
                self.report(
                    call,
                    "call-activity",
                    f"calledElement phải ghi mã quy trình cố định, không dùng biểu thức {called!r}",
                    f"calledElement must be a literal, not {called!r}",
                )
            for direction in ("in", "out"):
                entries = list(call.iter(_c(direction)))
                if not any(e.get("variables") == "all" for e in entries):
                    self.report(
                        call,
                        "call-activity",
                        f'thiếu camunda:{direction} variables="all" (chuyển toàn bộ dữ liệu hồ sơ)',
                        f'camunda:{direction} variables="all" is missing',
                    )
                for entry in entries:
                    if entry.get("sourceExpression") is not None or any(
                        _is_expression(v) for v in entry.attrib.values()
                    ):
                        self.report(
                            entry,
                            "call-activity",
                            f"camunda:{direction} không được dùng biểu thức",
                            f"camunda:{direction} must not use expressions",
                        )

    def check_diagram(self) -> None:
        """A shape for every flow node and an edge for every sequence flow, on the plane of its process."""
        for process in self.iter_bpmn("process"):
            process_id = process.get("id", "")
            planes = [p for p in self.root.iter(_di("BPMNPlane")) if p.get("bpmnElement") == process_id]
            if not planes:
                self.report(
                    process,
                    "diagram",
                    f"quy trình {process_id!r} không có sơ đồ (BPMNDiagram/BPMNPlane); vẽ lại trong trình thiết kế "
                    "hoặc tạo bằng node tools/bpmn/layout.mjs",
                    f"process {process_id!r} has no diagram (BPMNDiagram/BPMNPlane); "
                    "generate it with node tools/bpmn/layout.mjs",
                )
                continue
            shapes = {s.get("bpmnElement") for p in planes for s in p.iter(_di("BPMNShape"))}
            edges = {e.get("bpmnElement") for p in planes for e in p.iter(_di("BPMNEdge"))}
            for el in process:
                if not isinstance(el.tag, str) or not el.get("id"):
                    continue
                kind = etree.QName(el).localname
                if kind == "sequenceFlow":
                    if el.get("id") not in edges:
                        self.report(
                            el,
                            "diagram",
                            f"luồng {el.get('id')!r} không có đường vẽ (BPMNEdge) trong sơ đồ",
                            f"sequence flow {el.get('id')!r} has no BPMNEdge in the diagram",
                        )
                elif kind not in NOT_FLOW_NODES and el.get("id") not in shapes:
                    self.report(
                        el,
                        "diagram",
                        f"bước {el.get('id')!r} ({kind}) không có hình (BPMNShape) trong sơ đồ",
                        f"flow node {el.get('id')!r} ({kind}) has no BPMNShape in the diagram",
                    )


_TIMER_KINDS = frozenset({_b("timeDate"), _b("timeDuration"), _b("timeCycle")})


def _throws(definition: etree._Element) -> bool:
    parent = definition.getparent()
    return parent is not None and parent.tag in (_b("intermediateThrowEvent"), _b("endEvent"))


def _date_error(text: str) -> tuple[str, str] | None:
    """What is wrong with a timeDate, in Vietnamese and in English (None: nothing)."""
    m = _DATE_TIME.fullmatch(text)
    if not m:
        return (
            f"{text!r} không phải thời điểm theo ISO-8601, hãy ghi như 2026-01-01T00:00:00+07:00",
            f"{text!r} is not an ISO-8601 date-time like 2026-01-01T00:00:00+07:00",
        )
    if not m.group("zone"):
        return (
            f"{text!r} phải ghi múi giờ (+07:00 hoặc Z): thời điểm không có múi giờ tùy theo máy chủ",
            f"{text!r} needs a UTC offset (+07:00 or Z): a zone-less time depends on the server",
        )
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return f"{text!r} không phải thời điểm có thật", f"{text!r} is not a valid date-time"
    return None


def _duration_error(text: str) -> tuple[str, str] | None:
    if _DURATION.fullmatch(text):
        return None
    if re.fullmatch(r"P[0-9]+W", text):
        days = int(text[1:-1]) * 7
        return (
            f"hãy ghi số tuần thành số ngày ({text!r} → P{days}D): không phải bộ máy quy trình nào cũng đọc PnW",
            f"write weeks as days ({text!r} → P{days}D): not every engine reads PnW",
        )
    return (
        f"{text!r} không phải khoảng thời gian theo ISO-8601, hãy ghi như P3D (3 ngày) hoặc PT4H (4 giờ)",
        f"{text!r} is not an ISO-8601 duration like P3D or PT4H",
    )


def _timer_error(kind: str, text: str) -> tuple[str, str] | None:
    if not text:
        return f"{kind} để trống", f"empty {kind}"
    if _VAR_REF.fullmatch(text):
        return None
    if _is_expression(text):
        return (
            f"{kind} phải ghi theo ISO-8601 hoặc đúng dạng ${{tên_biến}}, không dùng {text!r}",
            f"{kind} must be an ISO-8601 literal or exactly ${{var}}, not {text!r}",
        )
    if kind == "timeDuration":
        return _duration_error(text)
    if kind == "timeDate":
        return _date_error(text)
    m = _CYCLE.fullmatch(text)
    if not m:
        return (
            f"{text!r} không phải chu kỳ lặp theo ISO-8601, hãy ghi như R3/PT1H (không dùng cron)",
            f"{text!r} is not an ISO-8601 repeating interval like R3/PT1H (cron is not portable)",
        )
    start = m.group("start")
    return (start and _date_error(start)) or _duration_error(m.group("duration"))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def lint_bpmn(source: str | os.PathLike[str] | bytes, *, name: str | None = None) -> list[LintProblem]:
    """Lint one BPMN document given as a path or as its bytes; ``name`` labels the problems."""
    if isinstance(source, bytes):
        label = name or "<bytes>"
        data = source
    else:
        label = name or os.fspath(source)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            message = bilingual("không đọc được tệp", f"cannot read the file: {exc.strerror or exc}")
            return [LintProblem(label, "", "xml", message)]
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        message = bilingual("tệp không phải XML hợp lệ (lỗi cú pháp)", f"not well-formed XML: {exc.msg}")
        return [LintProblem(label, "", "xml", message, exc.lineno)]
    if root.tag != _b("definitions"):
        message = bilingual(
            f"phần tử gốc là {root.tag!r}, phải là bpmn:definitions",
            f"root element is {root.tag!r}, expected bpmn:definitions",
        )
        return [LintProblem(label, "", "xml", message, 1)]
    return _Linter(label, root).run()


def _expand(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(path.rglob("*.bpmn"))
        else:
            yield path


def lint_paths(paths: Iterable[str | os.PathLike[str]]) -> list[LintProblem]:
    """Lint files, and every ``*.bpmn`` below any directory given."""
    problems: list[LintProblem] = []
    for path in _expand(paths):
        problems.extend(lint_bpmn(path))
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workflows.lint",
        description="Check BPMN files against Motcua's portable rules (one line per problem).",
        epilog="rules: " + "; ".join(f"{rule}: {text}" for rule, text in RULES.items()),
    )
    parser.add_argument("paths", nargs="+", metavar="FILE", help="a .bpmn file, or a directory to search")
    args = parser.parse_args(argv)
    files = list(_expand(args.paths))
    problems: list[LintProblem] = []
    for path in files:
        problems.extend(lint_bpmn(path))
    for problem in problems:
        print(problem)
    print(f"workflows.lint: {len(problems)} problem(s) in {len(files)} file(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
