"""The process diagram of a dossier (BPMN drawn in the browser by the bpmn-js viewer) and the static files the
page needs (``api/static``: the vendored viewer bundle, ``js/diagram.js``, ``css/diagram.css``).

Mounted by ``create_app``: ``app.include_router(diagram_router(runtime))``.

``GET /api/dossiers/{code}/diagram`` answers the BPMN XML of the dossier's process with where the dossier is:
``current`` (open user tasks, service steps waiting for a worker, message or timer events being waited for) and
``completed`` (steps done, an activity that is current again after a loop is only in ``current``). The BPMN is the
one the engine runs the dossier on and where it is comes from the audit trail and the engine (the ``Engine`` port:
``definition_xml``, ``user_tasks``, ``activity_states``), whichever engine it is. The process files carry no
diagram interchange (BPMNDI): when a file has none, a left-to-right layout is added here so the viewer has
something to draw; a file drawn in a modeller is served as it is.
"""

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from lxml import etree

from api.deps import CurrentPerson, Runtime
from dossiers.errors import NotFound
from services.operations import read_history
from workflows.introspect import BPMN_NS

log = structlog.get_logger(__name__)

STATIC_ROOT = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".eot": "application/vnd.ms-fontobject",
    ".txt": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE, VERSION
}
VENDOR_CACHE = "public, max-age=604800"  # a refresh (scripts/refresh-bpmn-js.sh) changes ETag; a week is fine
OWN_CACHE = "public, max-age=300, must-revalidate"

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DD_NS = "http://www.omg.org/spec/DD/20100524/DI"
NOT_FLOW_NODES = {
    "sequenceFlow",
    "laneSet",
    "documentation",
    "extensionElements",
    "textAnnotation",
    "association",
    "dataObject",
    "dataObjectReference",
    "dataStoreReference",
    "ioSpecification",
    "property",
}
# kinds shown as "current" when the engine is at them; a boundary event waits as long as its host is active
WAITING_KINDS_EXCLUDED = {"boundaryEvent", "startEvent"}


def diagram_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()
    shop = runtime.shop

    # CurrentPerson: a bearer token or the session cookie (the diagram page fetches with its own credentials)
    @router.get("/api/dossiers/{code}/diagram", tags=["dossiers"])
    def dossier_diagram(code: str, person: CurrentPerson) -> dict[str, Any]:
        """The BPMN of the dossier's process with its current and completed steps, for the diagram page
        (``/static/js/diagram.js``). Who may read the dossier may read its diagram."""
        row = shop.authorize_dossier(person, code)
        process_key = shop.procedure_of(row).process_key
        xml = runtime.engine.definition_xml(process_key, code)
        if xml is None:
            raise NotFound(
                f"Không tìm thấy sơ đồ quy trình '{process_key}'.",
                f"No deployed BPMN for process '{process_key}'.",
                process_key=process_key,
            )
        root = etree.fromstring(xml)
        process = _process(root, process_key)
        kinds = _flow_nodes(process)
        names = {node_id: name for node_id, (_kind, name) in kinds.items()}

        current: list[str] = []
        completed: list[str] = []
        # the audit trail: what officials did (service steps done by workers are not all there)
        for event in read_history(shop, person, code):  # recorded as a read of the history, as in JSON
            if event["kind"] == "task.completed":
                activity = event["details"].get("task")
                if isinstance(activity, str) and activity in kinds:
                    completed.append(activity)
        # the engine: open user tasks, then every activity it is at or has done
        for task in runtime.engine.user_tasks(business_key=code):
            current.append(task.activity_id)
            names.setdefault(task.activity_id, task.name)
        try:
            states = runtime.engine.activity_states(code)
        except Exception as exc:  # noqa: BLE001 - the diagram still shows what the audit and user tasks say
            log.warning("diagram.engine_state_unavailable", dossier_code=code, error=str(exc))
            states = None
        if states is not None:
            current.extend(a for a in states.current if a in kinds and kinds[a][0] not in WAITING_KINDS_EXCLUDED)
            completed.extend(a for a in states.completed if a in kinds)
        current_ids = _unique(current)
        return {
            "process_key": process_key,
            "xml": _with_layout(root, process),
            "current": current_ids,
            "completed": [a for a in _unique(completed) if a not in current_ids],
            "names": names,
        }

    @router.api_route("/static/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    def static_file(path: str, request: Request) -> Response:
        """Files under ``api/static`` only: no ``..``, no hidden files, no symlink out, known types only."""
        target = _static_path(path)
        stat = target.stat()
        etag = '"' + hashlib.sha256(f"{stat.st_mtime_ns}-{stat.st_size}".encode()).hexdigest()[:32] + '"'
        headers = {
            "Cache-Control": VENDOR_CACHE if path.startswith("vendor/") else OWN_CACHE,
            "ETag": etag,
            "X-Content-Type-Options": "nosniff",
        }
        if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
            return Response(status_code=304, headers=headers)
        return FileResponse(target, media_type=CONTENT_TYPES[target.suffix.lower()], headers=headers, stat_result=stat)

    return router


# ---------------------------------------------------------------------- static files


def _static_path(path: str) -> Path:
    missing = NotFound("Không có tệp này.", "No such static file.")
    parts = PurePosixPath(path).parts
    if (
        not parts
        or "\\" in path
        or "\x00" in path
        or path.startswith("/")
        or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
    ):
        raise missing
    target = STATIC_ROOT.joinpath(*parts)
    try:
        resolved = target.resolve(strict=True)
    except (OSError, RuntimeError):
        raise missing from None
    if not resolved.is_relative_to(STATIC_ROOT) or not resolved.is_file():
        raise missing
    suffix = resolved.suffix.lower()
    if suffix not in CONTENT_TYPES or (suffix == "" and resolved.name not in ("LICENSE", "VERSION")):
        raise missing
    return resolved


# ---------------------------------------------------------------------- where the dossier is


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------------- BPMN and layout


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _process(root: Any, process_key: str) -> Any:
    for process in root.iter(_q(BPMN_NS, "process")):
        if process.get("id") == process_key:
            return process
    raise NotFound(f"Không tìm thấy quy trình '{process_key}'.", f"No process '{process_key}' in its BPMN file.")


def _flow_nodes(process: Any) -> dict[str, tuple[str, str]]:
    """id → (element kind, name) of every flow node of the process."""
    nodes: dict[str, tuple[str, str]] = {}
    for el in process:
        if not isinstance(el.tag, str):
            continue
        kind = etree.QName(el).localname
        if kind in NOT_FLOW_NODES or not el.get("id"):
            continue
        nodes[el.get("id")] = (kind, (el.get("name") or "").strip())
    return nodes


def _size(kind: str) -> tuple[int, int]:
    if kind.endswith("Event"):
        return 36, 36
    if kind.endswith("Gateway"):
        return 50, 50
    return 100, 80


COLUMN = 170
ROW = 130
MARGIN = 90
FIRST_ROW_Y = MARGIN + 40  # the centre line of the first row


def _with_layout(root: Any, process: Any) -> str:
    """The XML, with a generated BPMNDI when the process has no shapes of its own."""
    has_di = any(
        plane.get("bpmnElement") == process.get("id") and len(plane) for plane in root.iter(_q(DI_NS, "BPMNPlane"))
    )
    if not has_di:
        _add_layout(root, process)
    return str(etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8"))


def _add_layout(root: Any, process: Any) -> None:
    nodes = _flow_nodes(process)
    flows = [
        (f.get("id"), f.get("sourceRef"), f.get("targetRef"))
        for f in process.iter(_q(BPMN_NS, "sequenceFlow"))
        if f.get("sourceRef") in nodes and f.get("targetRef") in nodes
    ]
    hosts = {
        el.get("id"): el.get("attachedToRef")
        for el in process.iter(_q(BPMN_NS, "boundaryEvent"))
        if el.get("attachedToRef") in nodes
    }
    outgoing: dict[str, list[str]] = {n: [] for n in nodes}
    for _fid, source, target in flows:
        outgoing[source].append(target)
    # a boundary event leaves from its host: its successors follow the host in the layering
    for event, host in hosts.items():
        outgoing[host].append(event)

    # depth-first from the start events: the order nodes are met; edges back to a node on the stack are loops
    order: list[str] = []
    finished: list[str] = []
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}

    def visit(start: str) -> None:
        stack: list[tuple[str, int]] = [(start, 0)]
        state[start] = 1
        order.append(start)
        while stack:
            node, i = stack[-1]
            if i < len(outgoing[node]):
                stack[-1] = (node, i + 1)
                nxt = outgoing[node][i]
                if state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    state[nxt] = 1
                    order.append(nxt)
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                finished.append(node)
                stack.pop()

    starts = [n for n, (kind, _) in nodes.items() if kind == "startEvent"]
    incoming = {t for _f, _s, t in flows}
    for n in [*starts, *(n for n in nodes if n not in incoming and n not in hosts), *nodes]:
        if n not in state:
            visit(n)

    # longest path layering over the forward edges (reverse post-order is a topological order of them)
    rank = dict.fromkeys(nodes, 0)
    for node in reversed(finished):
        for nxt in outgoing[node]:
            if (node, nxt) in back:
                continue
            step = 0 if hosts.get(nxt) == node else 1
            rank[nxt] = max(rank[nxt], rank[node] + step)

    columns: dict[int, list[str]] = {}
    for node in order:
        if node not in hosts:
            columns.setdefault(rank[node], []).append(node)
    bounds: dict[str, tuple[float, float, float, float]] = {}
    for col, members in columns.items():
        for row, node in enumerate(members):
            w, h = _size(nodes[node][0])
            cx, cy = MARGIN + col * COLUMN + 50, MARGIN + row * ROW + 40
            bounds[node] = (cx - w / 2, cy - h / 2, w, h)
    per_host: dict[str, int] = {}
    for event, host in hosts.items():
        hx, hy, hw, hh = bounds[host]
        i = per_host.get(host, 0)
        per_host[host] = i + 1
        bounds[event] = (hx + hw - 30 - 40 * i, hy + hh - 18, 36, 36)

    bottom = max((y + h for _x, y, _w, h in bounds.values()), default=0) + 30
    diagram = etree.SubElement(root, _q(DI_NS, "BPMNDiagram"), id=f"{process.get('id')}_di_diagram")
    plane = etree.SubElement(
        diagram, _q(DI_NS, "BPMNPlane"), id=f"{process.get('id')}_di_plane", bpmnElement=process.get("id")
    )
    for node, (x, y, w, h) in bounds.items():
        attrs = {"id": f"{node}_di", "bpmnElement": node}
        if nodes[node][0] == "exclusiveGateway":
            attrs["isMarkerVisible"] = "true"
        shape = etree.SubElement(plane, _q(DI_NS, "BPMNShape"), attrs)
        etree.SubElement(shape, _q(DC_NS, "Bounds"), _box(x, y, w, h))
    for index, (fid, source, target) in enumerate(flows):
        edge = etree.SubElement(plane, _q(DI_NS, "BPMNEdge"), id=f"{fid or f'flow_{index}'}_di", bpmnElement=fid or "")
        for px, py in _waypoints(bounds[source], bounds[target], source in hosts, bottom + 12 * (index % 4)):
            etree.SubElement(edge, _q(DD_NS, "waypoint"), x=_n(px), y=_n(py))


def _waypoints(
    src: tuple[float, float, float, float], dst: tuple[float, float, float, float], from_boundary: bool, below: float
) -> list[tuple[float, float]]:
    sx, sy, sw, sh = src
    tx, ty, tw, th = dst
    if from_boundary:  # down out of the event, then across to the target
        start = (sx + sw / 2, sy + sh)
        end = (tx, ty + th / 2) if tx > sx + sw else (tx + tw / 2, ty + th)
        return [start, (start[0], end[1]), end] if tx > sx + sw else [start, (start[0], below), (end[0], below), end]
    if tx > sx + sw:  # forward: right side to left side, one bend column half-way
        start, end = (sx + sw, sy + sh / 2), (tx, ty + th / 2)
        if abs(start[1] - end[1]) < 1:
            return [start, end]
        mid = end[0] - 35
        return [start, (mid, start[1]), (mid, end[1]), end]
    if abs(sy + sh / 2 - FIRST_ROW_Y) < 1 and abs(ty + th / 2 - FIRST_ROW_Y) < 1:
        # a loop back along the first row: over the top of the diagram, nothing is drawn there
        above = MARGIN - 45 - (below % 4) * 8
        start, end = (sx + sw / 2 + 10, sy), (tx + tw / 2 - 10, ty)
        return [start, (start[0], above), (end[0], above), end]
    # any other loop back: down under the diagram and back up into the target
    start, end = (sx + sw / 2, sy + sh), (tx + tw / 2, ty + th)
    return [start, (start[0], below), (end[0], below), end]


def _box(x: float, y: float, w: float, h: float) -> Mapping[str, str]:
    return {"x": _n(x), "y": _n(y), "width": _n(w), "height": _n(h)}


def _n(value: float) -> str:
    return str(int(round(value)))
