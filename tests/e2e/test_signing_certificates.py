"""No step dies for a missing certificate (issue 16): a leader added later signs results.

In development a leader added on the administration page (or with ``motcua users add``) gets a development
certificate at once and signs. Without that auto-issue (a production-like installation trusting its own CA): the
new leader reads on the task page what to do, the approval that would lead to his signature is refused (409)
before the process moves — no incident —, the administration page lists him; the administrator's upload of a key
file or of a certificate from an untrusted CA is refused; the certificate issued under the trusted root is
registered, and then the approval goes through, the result is prepared with no incident and signed."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from motcua.app import DEMO_PASSWORD
from motcua.cli import app as cli
from motcua.settings import Settings
from signing.validate import PadesValidator
from tests.cert_factory import Authority, name, p12, pem, root
from tests.conftest import COMMUNE, MONDAY_MORNING, Api
from tests.e2e.test_web_audit import desk_client
from tests.web import csrf

ADMIN = "quantri.tinh"
SPECIALIST = "chuyenvien1.xa1"
CLERK = "vanthu.xa1"
NEW_LEADER = "lanhdao2.xa1"
NEW_LEADER_NAME = "Đinh Văn Quang"
LEADERS_DEPARTMENT = f"{COMMUNE}-VP"
NOTICE = "Bạn chưa có chứng thư số hợp lệ để ký kết quả."


@pytest.fixture(scope="module")
def trusted_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Authority, Authority, Path]:
    """The installation's own CA (a root and the CA that issues officials' certificates) and the root's PEM file,
    what MOTCUA_TRUST_ROOTS names."""
    trusted = root("Gốc chứng thực của tỉnh Demo", MONDAY_MORNING)
    issuing = trusted.sub_ca("CA cấp chứng thư số cho cán bộ", MONDAY_MORNING)
    path = tmp_path_factory.mktemp("trust") / "root.pem"
    path.write_bytes(pem(trusted.cert))
    return trusted, issuing, path


@pytest.fixture
def auto_issue(request: pytest.FixtureRequest) -> bool:
    """Development certificates for officials added later: on unless a test is parametrized with False."""
    return bool(getattr(request, "param", True))


@pytest.fixture
def settings(settings: Settings, auto_issue: bool, trusted_ca: tuple[Authority, Authority, Path]) -> Settings:
    """Development as usual, or without auto-issue: no development certificates for officials added later and the
    installation's own trust root configured (a production-like installation)."""
    if auto_issue:
        return settings
    return settings.model_copy(update={"development_certificates": False, "trust_roots": str(trusted_ca[2])})


def admin_client(api: Api) -> tuple[TestClient, str]:
    client = desk_client(api, ADMIN)
    return client, csrf(client, "/quan-tri")


def add_leader(api: Api, client: TestClient, token: str, username: str = NEW_LEADER) -> None:
    data = {
        "csrf_token": token,
        "username": username,
        "full_name": NEW_LEADER_NAME,
        "password": DEMO_PASSWORD,
        "role": "leader",
        "agency_code": COMMUNE,
        "department_code": LEADERS_DEPARTMENT,
    }
    r = client.post("/quan-tri/nguoi-dung", data=data)
    assert r.status_code == 303, r.text


def missing_section(client: TestClient) -> str:
    page = client.get("/quan-tri/chung-thu-so")
    assert page.status_code == 200
    return page.text[page.text.index('id="h-missing"') : page.text.index('id="h-register"')]


def approved_by_specialist(api: Api) -> str:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    api.work()
    assert api.decide(SPECIALIST, code, "approve", "Hồ sơ hợp lệ").status_code == 200
    return code


def dossier(api: Api, code: str) -> dict[str, Any]:
    return dict(api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json())


def kinds(api: Api, code: str) -> list[str]:
    return [e["kind"] for e in api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()]


def audit_events(api: Api, kind: str) -> list[dict[str, object]]:
    return [dict(e.event.details) | {"actor": e.event.actor} for e in api.runtime.audit.all() if e.event.kind == kind]


def test_in_development_a_leader_added_later_gets_a_certificate_at_once_and_signs(api: Api) -> None:
    client, token = admin_client(api)
    add_leader(api, client, token)
    assert api.runtime.pki.has_key(f"person:{NEW_LEADER}")
    assert api.runtime.certificates.status(NEW_LEADER).valid
    assert NEW_LEADER not in missing_section(client)
    [issued] = audit_events(api, "certificate.development_issued")
    assert issued["username"] == NEW_LEADER and issued["actor"] == ADMIN

    code = approved_by_specialist(api)
    task = api.task_for(NEW_LEADER, code)
    assert task["signs_after"] is True
    page = desk_client(api, NEW_LEADER).get(f"/can-bo/nhiem-vu/{task['id']}")
    assert page.status_code == 200 and NOTICE not in page.text
    assert api.decide(NEW_LEADER, code, "approve").status_code == 200
    api.issue_result(code, leader=NEW_LEADER)
    assert dossier(api, code)["status"] == "result_ready"
    [applied] = [e for e in audit_events(api, "signature.applied") if e.get("device")]
    assert applied["signer"] == f"person:{NEW_LEADER}"
    assert api.runtime.engine.incidents() == []

    # `motcua users add` too: a clerk added on the command line has a certificate at once
    run = CliRunner().invoke(
        cli,
        [
            "users", "add", "vanthu2.xa1", "--role", "clerk", "--name", "Lò Thị Hoa", "--agency", COMMUNE,
            "--department", LEADERS_DEPARTMENT, "--password", "mat-khau-van-thu",
        ],
        env={"MOTCUA_VAR_DIR": str(api.runtime.settings.var_dir)},
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert api.runtime.pki.has_key("person:vanthu2.xa1")


@pytest.mark.parametrize("auto_issue", [False], indirect=True)
def test_without_a_certificate_the_approval_waits_until_the_admin_registers_one(
    api: Api, trusted_ca: tuple[Authority, Authority, Path]
) -> None:
    trusted, issuing, _ = trusted_ca
    pki = api.runtime.pki
    client, token = admin_client(api)
    add_leader(api, client, token)
    assert not pki.has_key(f"person:{NEW_LEADER}")
    assert NEW_LEADER in missing_section(client)
    assert "1 lãnh đạo chưa có chứng thư số hợp lệ" in client.get("/quan-tri").text
    assert 'href="/quan-tri/chung-thu-so"' in client.get("/quan-tri/nguoi-dung").text  # the admin menu

    # the leader reads what to do; the approval leading to his signature is refused before anything moves
    code = approved_by_specialist(api)
    task = api.task_for(NEW_LEADER, code)
    leader = desk_client(api, NEW_LEADER)
    page = leader.get(f"/can-bo/nhiem-vu/{task['id']}")
    assert page.status_code == 200
    assert NOTICE in page.text and "Đề nghị quản trị viên đăng ký chứng thư số" in page.text
    assert NOTICE not in desk_client(api, "lanhdao.xa1").get(f"/can-bo/nhiem-vu/{task['id']}").text
    refused = leader.post(
        f"/can-bo/nhiem-vu/{task['id']}", data={"csrf_token": csrf(leader), "decision": "approve", "comment": ""}
    )
    assert refused.status_code == 409
    assert "Chưa thể phê duyệt: Bạn chưa có chứng thư số hợp lệ để ký kết quả." in refused.text
    by_api = api.post(f"/api/tasks/{task['id']}/complete", NEW_LEADER, json={"decision": "approve"})
    assert by_api.status_code == 409
    assert by_api.json()["code"] == "motcua.certificate_missing"
    assert by_api.json()["title"].startswith("Chưa thể phê duyệt")
    assert api.work() == 0 and api.runtime.engine.incidents() == []
    assert api.task_for(NEW_LEADER, code)["activity_id"] == "approve"
    assert "signature.requested" not in kinds(api, code)

    # the administrator: a key file is refused and not stored, a certificate of an untrusted CA is refused
    key, leaf = issuing.issue(name(NEW_LEADER_NAME, "Ủy ban nhân dân xã Hòa An", uid=NEW_LEADER), MONDAY_MORNING)
    published = pki.root_dir / "person" / f"{NEW_LEADER}.pem"
    for filename, data, reason in (
        ("lanhdao2.p12", p12(key, leaf, [issuing.cert], b"mat-khau"), "có chứa khóa bí mật"),
        ("khac.pem", pem(root("Gốc lạ", MONDAY_MORNING).issue(name("Khác"), MONDAY_MORNING)[1]), "không lập được"),
    ):
        r = client.post(
            "/quan-tri/chung-thu-so",
            data={"csrf_token": token, "username": NEW_LEADER},
            files={"certificate": (filename, data, "application/octet-stream")},
        )
        assert r.status_code == 422, filename
        assert reason in r.text, filename
        assert not published.exists(), filename
    forged = client.post(
        "/quan-tri/chung-thu-so",
        data={"csrf_token": "0" * 64, "username": NEW_LEADER},
        files={"certificate": ("lanhdao2.pem", pem(leaf, issuing.cert), "application/x-pem-file")},
    )
    assert forged.status_code == 403 and not published.exists()

    # the certificate issued under the trusted root, with its issuing CA: checked, shown, registered
    r = client.post(
        "/quan-tri/chung-thu-so",
        data={"csrf_token": token, "username": NEW_LEADER},
        files={"certificate": ("lanhdao2.pem", pem(leaf, issuing.cert), "application/x-pem-file")},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/quan-tri/chung-thu-so?da_dang_ky={NEW_LEADER}"
    shown = client.get(r.headers["location"]).text
    for expected in (
        f"Đã đăng ký chứng thư số cho {NEW_LEADER}.",
        "Đạt: chứng thư số hợp lệ",
        f"{NEW_LEADER_NAME} — Ủy ban nhân dân xã Hòa An",
        "CA cấp chứng thư số cho cán bộ — Tổ chức chứng thực thử nghiệm",
        "Chữ ký số, Chống chối bỏ",
        "Gốc chứng thực của tỉnh Demo",
    ):
        assert expected in shown, expected
    serial = f"{leaf.serial_number:X}"
    assert ":".join(re.findall("..", serial[-8:])) in shown  # the serial number, in pairs of hex digits
    assert NEW_LEADER not in missing_section(client)
    assert [c.subject for c in pki.public_chain(f"person:{NEW_LEADER}")] == [
        leaf.subject,
        issuing.cert.subject,
        trusted.cert.subject,
    ]
    [registered] = audit_events(api, "admin.certificate_registered")
    assert registered["actor"] == ADMIN and registered["username"] == NEW_LEADER

    # now the approval goes through, the result is prepared with no incident, the leader signs on his device
    assert NOTICE not in leader.get(f"/can-bo/nhiem-vu/{task['id']}").text
    done = leader.post(
        f"/can-bo/nhiem-vu/{task['id']}", data={"csrf_token": csrf(leader), "decision": "approve", "comment": ""}
    )
    assert done.status_code == 303, done.text
    assert api.work() == 1  # result.prepare
    assert api.runtime.engine.incidents() == []
    [pending] = api.get("/api/signatures/pending", NEW_LEADER).json()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    value = key.sign(base64.b64decode(pending["data_to_sign"]), ec.ECDSA(hashes.SHA256()))
    signed = api.post(
        f"/api/signatures/{pending['id']}", NEW_LEADER, json={"signature_value": base64.b64encode(value).decode()}
    )
    assert signed.status_code == 200, signed.text
    assert api.decide(CLERK, code, None).status_code == 200
    api.work()
    assert dossier(api, code)["status"] == "result_ready"
    assert api.runtime.engine.incidents() == []
    [result] = [d for d in dossier(api, code)["documents"] if d["kind"] == "result"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{result['id']}", "tiepnhan.xa1").content
    report = PadesValidator([trusted.cert, *pki.trust_roots()]).validate(pdf)
    assert report.indication == "TOTAL-PASSED", report
    assert NEW_LEADER_NAME in report.signatures[0].signer_subject
