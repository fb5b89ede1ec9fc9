"""The process diagram of a dossier (BPMN drawn in the browser by the bpmn-js viewer) and the static files the
page needs (``api/static``: the vendored viewer bundle, ``js/diagram.js``, ``css/diagram.css``).

Mounted by ``create_app``: ``app.include_router(diagram_router(runtime))``.

``GET /api/dossiers/{code}/diagram`` answers the BPMN XML of the dossier's process with where the dossier is:
``current`` (open user tasks, service steps waiting for a worker, message or timer events being waited for) and
``completed`` (steps done, an activity that is current again after a loop is only in ``current``). The BPMN is the
one the engine runs the dossier on and where it is comes from the audit trail and the engine (the ``Engine`` port:
``definition_xml``, ``user_tasks``, ``activity_states``), whichever engine it is. The XML is served exactly as
deployed: every process file carries its own diagram interchange (BPMN DI, required by ``workflows.lint``), so the
viewer draws what Camunda Modeler and Operaton Cockpit draw.
"""

import hashlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from lxml import etree

from api.deps import CurrentPerson, Runtime
from dossiers.errors import NotFound
from services.operations import read_history
from workflows.introspect import BPMN_NS, NOT_FLOW_NODES

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
            "xml": xml.decode("utf-8"),
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


# ---------------------------------------------------------------------- BPMN


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
