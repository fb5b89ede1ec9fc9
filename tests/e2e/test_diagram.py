"""The dossier's process diagram: GET /api/dossiers/{code}/diagram (BPMN + where the dossier is) and the static
files the diagram page loads (the vendored bpmn-js viewer, diagram.js, diagram.css)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from api.diagram import STATIC_ROOT, _flow_nodes, _process, _static_path
from dossiers.errors import NotFound
from dossiers.model import Role
from motcua.app import DEMO_PASSWORD, Runtime
from tests.conftest import ENGINES, OTHER_COMMUNE, Api, minimal_pdf
from workflows import BPMN_DIR
from workflows.introspect import BPMN_NS

BUNDLE = STATIC_ROOT / "vendor" / "bpmn-js" / "bpmn-viewer.production.min.js"
DI = "http://www.omg.org/spec/BPMN/20100524/DI"


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    """The app as built (api/app.py mounts the diagram and the static files)."""
    from api.app import create_app

    app = create_app(runtime)
    return TestClient(app)


def _login(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _at_review(api: Api) -> str:
    r = api.submit()
    assert r.status_code == 201, r.text
    assert api.work() == 2  # accept, issue_receipt
    return str(r.json()["code"])


@ENGINES  # where the dossier is comes from the Engine port: the embedded task tree, or Operaton's history
def test_diagram_of_a_household_dossier_at_review(api: Api, client: TestClient) -> None:
    code = _at_review(api)
    r = client.get(f"/api/dossiers/{code}/diagram", headers=_login(client, "chuyenvien1.xa1"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"process_key", "xml", "current", "completed", "names"}
    assert body["process_key"] == "household_business_registration"
    assert body["current"] == ["review"]
    for done in ("received", "accept", "issue_receipt"):
        assert done in body["completed"], body["completed"]
    assert not {"review", "approve", "near_due", "refuse"} & set(body["completed"])
    assert body["names"]["review"] == "Thẩm định hồ sơ đăng ký hộ kinh doanh"

    # the XML is the process file's with the file's own diagram (nothing generated): a shape per flow node where
    # the file puts it, an edge per flow
    root = etree.fromstring(body["xml"].encode())
    process = _process(root, "household_business_registration")
    assert _drawing(root) == _drawing(
        etree.fromstring((BPMN_DIR / "household_business_registration.bpmn").read_bytes())
    )
    shapes = {s.get("bpmnElement") for s in root.iter(f"{{{DI}}}BPMNShape")}
    edges = {e.get("bpmnElement") for e in root.iter(f"{{{DI}}}BPMNEdge")}
    assert shapes == set(_flow_nodes(process))
    assert edges == {f.get("id") for f in process.iter(f"{{{BPMN_NS}}}sequenceFlow")}

    # the specialist decides: the leader's approval is current, the review is done
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    after = client.get(f"/api/dossiers/{code}/diagram", headers=_login(client, "thanhtra.tinh")).json()
    assert after["current"] == ["approve"]
    assert "review" in after["completed"] and "decision_gateway" in after["completed"]


def _drawing(root: etree._Element) -> dict[str, list[tuple[str, ...]]]:
    """element id → the bounds of its shape or the waypoints of its edge."""
    return {
        el.get("bpmnElement", ""): [tuple(child.attrib.values()) for child in el if isinstance(child.tag, str)]
        for el in root.iter(f"{{{DI}}}BPMNShape", f"{{{DI}}}BPMNEdge")
    }


def test_diagram_is_read_like_the_dossier(api: Api, client: TestClient) -> None:
    code = _at_review(api)
    api.runtime.accounts.add(
        "chuyenvien.xa2",
        DEMO_PASSWORD,
        "Chuyên viên xã khác",
        Role.SPECIALIST,
        OTHER_COMMUNE,
        f"{OTHER_COMMUNE}-PKT",
        api.runtime.clock.now(),
    )
    other = client.get(f"/api/dossiers/{code}/diagram", headers=_login(client, "chuyenvien.xa2"))
    assert other.status_code == 403, other.text
    assert other.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/api/dossiers/{code}/diagram", headers=_login(client, "congdan1")).status_code == 403
    unknown = client.get("/api/dossiers/000.00.31.H99-260302-9999/diagram", headers=_login(client, "tiepnhan.xa1"))
    assert unknown.status_code == 404, unknown.text
    assert client.get(f"/api/dossiers/{code}/diagram").status_code == 401
    bad = client.get(f"/api/dossiers/{code}/diagram", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401


def test_the_bundle_its_licence_and_version_are_committed() -> None:
    assert BUNDLE.is_file() and BUNDLE.stat().st_size > 50_000
    assert BUNDLE.read_text(encoding="utf-8").startswith("/*! bpmn-js - bpmn-viewer v")
    licence = (BUNDLE.parent / "LICENSE").read_text(encoding="utf-8")
    assert "Camunda Services GmbH" in licence and "watermark" in licence
    version = (BUNDLE.parent / "VERSION").read_text(encoding="utf-8").splitlines()[0]
    assert version.startswith("bpmn-js ") and version.split()[1] in BUNDLE.read_text(encoding="utf-8")[:80]
    for css in ("bpmn-js.css", "diagram-js.css"):
        assert (BUNDLE.parent / "assets" / css).is_file()
    assert (STATIC_ROOT / "js" / "diagram.js").is_file() and (STATIC_ROOT / "css" / "diagram.css").is_file()


def test_static_route_serves_the_viewer_with_types_and_cache_headers(client: TestClient) -> None:
    r = client.get("/static/vendor/bpmn-js/bpmn-viewer.production.min.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "max-age=" in r.headers["cache-control"]
    assert r.content == BUNDLE.read_bytes()
    again = client.get(
        "/static/vendor/bpmn-js/bpmn-viewer.production.min.js", headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert client.get("/static/js/diagram.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/css/diagram.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/vendor/bpmn-js/assets/bpmn-js.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/vendor/bpmn-js/LICENSE").headers["content-type"].startswith("text/plain")
    assert client.head("/static/js/diagram.js").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/..%2fdiagram.py",
        "/static/..%2F..%2Fpyproject.toml",
        "/static/vendor/..%2f..%2fdiagram.py",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static/vendor/bpmn-js/..%5c..%5c..%5cdiagram.py",
        "/static/%2fetc%2fpasswd",
        "/static//etc/passwd",
        "/static/vendor/",
        "/static/js/nothing.js",
        "/static/.hidden",
    ],
)
def test_static_route_refuses_traversal_and_unknown_files(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code, r.text[:200])
    assert b"import " not in r.content and b"root:" not in r.content


def test_static_route_does_not_follow_a_symlink_out(client: TestClient, tmp_path: Path) -> None:
    outside = tmp_path / "secret.js"
    outside.write_text("secret")
    link = STATIC_ROOT / "js" / "zz-test-link.js"
    link.symlink_to(outside)
    try:
        assert client.get("/static/js/zz-test-link.js").status_code == 404
    finally:
        link.unlink()


@pytest.mark.parametrize("bpmn", sorted(BPMN_DIR.glob("*.bpmn")), ids=lambda p: p.stem)
def test_every_process_file_draws_itself(bpmn: Path) -> None:
    """The file's own diagram (tools/bpmn/layout.mjs, kept in the file): every flow node has a shape on the
    process's plane, every flow an edge of at least two points, and no two shapes cover each other."""
    root = etree.fromstring(bpmn.read_bytes())
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        [plane] = [p for p in root.iter(f"{{{DI}}}BPMNPlane") if p.get("bpmnElement") == process.get("id")]
        shapes = {s.get("bpmnElement"): s for s in plane.iter(f"{{{DI}}}BPMNShape")}
        nodes = _flow_nodes(process)
        assert set(nodes) <= set(shapes)
        flows = {f.get("id") for f in process.iter(f"{{{BPMN_NS}}}sequenceFlow")}
        edges = [e for e in plane.iter(f"{{{DI}}}BPMNEdge") if e.get("bpmnElement") in flows]
        assert {e.get("bpmnElement") for e in edges} == flows
        assert all(len(e) >= 2 for e in edges)
        boxes = []
        for element, shape in shapes.items():
            if element in nodes and nodes[element][0] != "boundaryEvent":  # those sit on their host's border
                [bounds] = shape
                x, y, w, h = (float(bounds.get(k, "")) for k in ("x", "y", "width", "height"))
                boxes.append((element, x, y, x + w, y + h))
        overlapping = [
            (a[0], b[0])
            for i, a in enumerate(boxes)
            for b in boxes[i + 1 :]
            if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
        ]
        assert overlapping == []


@ENGINES
def test_waiting_for_a_supplement_then_back_at_review(api: Api, client: TestClient) -> None:
    code = _at_review(api)
    assert api.decide("chuyenvien1.xa1", code, "supplement", "Thiếu hợp đồng thuê").status_code == 200
    api.work()  # request_supplement (Mẫu 02): then the process waits for the citizen's message
    headers = _login(client, "tiepnhan.xa1")
    waiting = client.get(f"/api/dossiers/{code}/diagram", headers=headers).json()
    assert waiting["current"] == ["supplement_received"]
    assert {"review", "request_supplement"} <= set(waiting["completed"])

    files = {"paper.giay_to_phap_ly": ("hop-dong.pdf", minimal_pdf("hop dong"), "application/pdf")}
    assert api.post(f"/api/dossiers/{code}/supplement", "tiepnhan.xa1", files=files).status_code == 200
    api.work()  # resume
    again = client.get(f"/api/dossiers/{code}/diagram", headers=headers).json()
    assert again["current"] == ["review"]  # done once and current again: only in current
    assert "review" not in again["completed"] and "supplement_received" in again["completed"]


@pytest.mark.parametrize("path", ["../diagram.py", "js/../../diagram.py", "/etc/passwd", "js\\..\\x.js", ".git", ""])
def test_static_path_guard(path: str) -> None:
    with pytest.raises(NotFound):
        _static_path(path)
