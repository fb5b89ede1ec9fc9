"""Shared fixtures: a fresh Motcua state per test (a copy of one prepared per session) on a simulated clock, and
sample files."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from dossiers.calendar import VN_TZ
from dossiers.clock import SimulatedClock
from motcua.app import DEMO_PASSWORD, Runtime, build_runtime, init_state
from motcua.settings import Settings, read_secret_file
from services import accounts as security
from tests.integration.postgres import PostgresCluster, PostgresUnavailable, start_cluster
from tests.services import service_missing

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

COMMUNE = "000.00.31.H99"
OTHER_COMMUNE = "000.00.32.H99"
HOUSEHOLD_BUSINESS = "1.001612"
# What the household business application form declares (the procedure's form fields).
HOUSEHOLD_DETAILS = {
    "business_name": "Tạp hóa Bình An",
    "business_address": "Thôn Đông, xã Hòa An, tỉnh Demo",
    "business_lines": ["Bán lẻ lương thực, thực phẩm"],
    "capital_vnd": 100000000,
    "owner_birth_date": "1985-04-12",
    "owner_address": "Thôn Đông, xã Hòa An, tỉnh Demo",
}
# Monday 2 March 2026, 08:00 in Vietnam: an ordinary working morning.
MONDAY_MORNING = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ)


def build_pdf(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (numbered from 1, object 1 the catalog) with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def minimal_pdf(text: str = "Motcua test") -> bytes:
    """A small valid one-page PDF with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    return build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throw-away PostgreSQL server for the session (tests/integration/postgres.py); always stopped.
    ``postgres_cluster.url()`` is the ``motcua`` database, ``fresh_database()`` an empty one per test.
    Skipped when PostgreSQL cannot be started here, except with CI=true, where that fails."""
    try:
        cluster = start_cluster()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError) as exc:
        service_missing(f"PostgreSQL did not start: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test; dropped afterwards."""
    url = postgres_cluster.fresh_database()
    try:
        yield url
    finally:
        postgres_cluster.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def operaton_server(postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Operaton engine (deploy/operaton, built once and cached) on its own database of the suite's
    PostgreSQL, with the job executor off: timers fire on the simulated clock through ``fire_due_timers``."""
    from tests.integration.operaton import Jdbc, OperatonUnavailable, start_operaton

    jdbc = Jdbc.from_sqlalchemy(postgres_cluster.fresh_database("operaton_session"))
    try:
        server = start_operaton(jdbc, tmp_path_factory.mktemp("operaton-session"), job_executor=False)
    except OperatonUnavailable as exc:
        service_missing(f"Operaton unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


def forget_operaton_instances(server: Any) -> None:
    """Delete every process instance, running and historic: each test's dossier codes start again at 0001 and
    would otherwise meet an earlier test's instance under the same business key."""
    with server.client() as http:
        for row in http.get("/process-instance").json():
            http.delete(f"/process-instance/{row['id']}", params={"skipCustomListeners": "true"})
        for row in http.get("/history/process-instance").json():
            http.delete(f"/history/process-instance/{row['id']}")


# The procedures' end-to-end modules run on both engines: ``pytestmark = [ENGINES]``.
ENGINES = pytest.mark.parametrize("engine_kind", ["embedded", "operaton"], indirect=True)


@pytest.fixture
def engine_kind(request: pytest.FixtureRequest) -> str:
    """Which engine ``runtime`` runs on: embedded unless the test is parametrized with ENGINES."""
    return str(getattr(request, "param", "embedded"))


@pytest.fixture
def settings(tmp_path: Path, engine_kind: str, request: pytest.FixtureRequest) -> Settings:
    base = Settings(var_dir=tmp_path / "var", max_upload_mb=2, demo_clock=True)
    if engine_kind == "embedded":
        return base
    server = request.getfixturevalue("operaton_server")
    forget_operaton_instances(server)
    return base.model_copy(
        update={
            "engine": "operaton",
            "operaton_url": server.url,
            "operaton_user": server.user,
            "operaton_password": server.password,
        }
    )


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2id at its smallest cost (one pass over 8 KiB) for everything hashed and verified in this process.

    At the library's defaults every hash and every login costs about 0.15 s on purpose, and the suite logs in
    thousands of times: that was most of its run time. No test depends on the cost; what is stored is still an
    argon2id hash verified by the same code. Servers started as subprocesses (tests/integration/server.py) and
    every real installation keep the defaults."""
    patch = pytest.MonkeyPatch()
    patch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    patch.undo()


class PreparedStates:
    """What ``init_state`` leaves in a state directory, made once per session for each distinct initialisation
    (every setting but ``var_dir``) and copied into each test's own directory: migrating, seeding, deploying and
    issuing the development PKI on every set-up was the suite's other big cost. Nothing in the state names its
    directory (the database URL and every path are derived from ``var_dir`` when the runtime is built).

    Initialised in place, as before, when the state lives partly outside ``var_dir`` (a database or object store
    URL) or the settings name files of this test alone (no other test could share the template)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates: dict[str, Path] = {}

    def install(self, settings: Settings, test_dir: Path) -> None:
        key = json.dumps(settings.model_dump(mode="json", exclude={"var_dir"}), sort_keys=True)
        if settings.database_url or settings.storage_url or str(test_dir) in key:
            init_state(settings)
            return
        template = self.templates.get(key)
        if template is None:
            made = settings.model_copy(update={"var_dir": self.root / f"state-{len(self.templates)}" / "var"})
            init_state(made)  # every connection is closed when it returns: the files are complete and quiet
            template = self.templates[key] = made.var_dir
        shutil.copytree(template, settings.var_dir, dirs_exist_ok=True)  # modes too (the state is private)
        if settings.secret_key is None:  # as init_state does: the secret it wrote
            settings.secret_key = read_secret_file(settings.secret_key_file)


@pytest.fixture(scope="session")
def prepared_states(tmp_path_factory: pytest.TempPathFactory) -> PreparedStates:
    return PreparedStates(tmp_path_factory.mktemp("prepared-states"))


@pytest.fixture
def runtime(settings: Settings, prepared_states: PreparedStates, tmp_path: Path) -> Iterator[Runtime]:
    prepared_states.install(settings, tmp_path)
    rt = build_runtime(settings, clock=SimulatedClock(MONDAY_MORNING))
    rt.engine.deploy()
    yield rt
    rt.close()


class Api:
    """A thin HTTP client that logs in as demo people and drives workers and the clock."""

    def __init__(self, runtime: Runtime) -> None:
        from api.app import asgi

        self.runtime = runtime
        self.client = TestClient(asgi(runtime))
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self._tokens:
            r = self.client.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            self._tokens[username] = r.json()["access_token"]
        return self._tokens[username]

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def get(self, path: str, as_user: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.auth(as_user), **kw)

    def post(self, path: str, as_user: str, **kw: Any) -> Any:
        return self.client.post(path, headers=self.auth(as_user), **kw)

    def forget_tokens(self) -> None:
        self._tokens.clear()

    def work(self) -> int:
        """Run the workers until no external task is left."""
        return self.runtime.worker.drain()

    def advance(self, **delta: float) -> None:
        clock = self.runtime.clock
        assert isinstance(clock, SimulatedClock)
        now = clock.advance(dt.timedelta(**delta))
        self.forget_tokens()  # tokens expire on the simulated clock too: log in again
        self.runtime.engine.fire_due_timers(now)
        self.work()

    def submit(
        self,
        as_user: str = "tiepnhan.xa1",
        procedure: str = HOUSEHOLD_BUSINESS,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        **fields: str,
    ) -> Any:
        data = {
            "procedure_code": procedure,
            "applicant_name": "Nguyễn Văn An",
            "applicant_id_number": "001090012345",
        } | fields
        if procedure == HOUSEHOLD_BUSINESS and "details" not in data:
            data["details"] = json.dumps(HOUSEHOLD_DETAILS, ensure_ascii=False)
        if files is None:
            files = {
                "paper.giay_de_nghi": ("giay-de-nghi.pdf", minimal_pdf("de nghi"), "application/pdf"),
                "paper.giay_to_phap_ly": ("cccd.pdf", minimal_pdf("cccd"), "application/pdf"),
            }
        return self.post("/api/dossiers", as_user, data=data, files=files)

    def receive(
        self, code: str, decision: str = "accept", comment: str | None = None, as_user: str = "tiepnhan.xa1"
    ) -> Any:
        """Reception's check of an online dossier waiting in the queue: accept (the process starts and the receipt
        is issued), ask for papers or refuse; the workers then run."""
        r = self.post(f"/api/dossiers/{code}/reception", as_user, json={"decision": decision, "comment": comment})
        self.work()
        return r

    def task_for(self, username: str, code: str) -> dict[str, Any]:
        tasks = [t for t in self.get("/api/tasks", username).json() if t["dossier_code"] == code]
        assert len(tasks) == 1, tasks
        return tasks[0]

    def device(self, username: str) -> Any:
        """The official's own signing device: it holds their key; the server never sees it."""
        from signing.device import DeviceClient

        pki = self.runtime.pki
        return DeviceClient(pki.pkcs12_path(f"person:{username}").read_bytes(), self.runtime.settings.key_passphrase)

    def sign_on_device(self, username: str, code: str) -> Any:
        """What the leader's PC does: fetch what to sign, sign it on the token, send the value back."""
        import base64

        pending = [p for p in self.get("/api/signatures/pending", username).json() if p["dossier_code"] == code]
        assert len(pending) == 1, pending
        value = self.device(username).sign(base64.b64decode(pending[0]["data_to_sign"]), pending[0]["digest_algorithm"])
        return self.post(
            f"/api/signatures/{pending[0]['id']}", username, json={"signature_value": base64.b64encode(value).decode()}
        )

    def issue_result(self, code: str, leader: str = "lanhdao.xa1", clerk: str = "vanthu.xa1") -> None:
        """After the leader approved: the certificate is prepared, signed on the leader's device, numbered by the
        clerk and sealed by the agency."""
        self.work()  # result.prepare
        r = self.sign_on_device(leader, code)
        assert r.status_code == 200, r.text
        r = self.decide(clerk, code, None)  # register_number
        assert r.status_code == 200, r.text
        self.work()  # result.seal, dossier.result_ready

    def received(self, as_user: str = "tiepnhan.xa1", **fields: Any) -> str:
        """A dossier registered at the desk and accepted with its receipt: its review task is open."""
        r = self.submit(as_user, **fields)
        assert r.status_code == 201, r.text
        self.work()  # accept, receipt: the review task opens
        return str(r.json()["code"])

    def resolve(self, code: str) -> None:
        """From review to handed over: the specialist and the leader approve, the result is issued (signed,
        numbered, sealed) and the desk hands it over."""
        assert self.decide("chuyenvien1.xa1", code, "approve", "Hồ sơ hợp lệ").status_code == 200
        assert self.decide("lanhdao.xa1", code, "approve").status_code == 200
        self.issue_result(code)
        assert self.decide("tiepnhan.xa1", code, None).status_code == 200
        self.work()

    def decide(self, username: str, code: str, decision: str | None, comment: str | None = None) -> Any:
        task = self.task_for(username, code)
        return self.post(f"/api/tasks/{task['id']}/complete", username, json={"decision": decision, "comment": comment})


@pytest.fixture
def api(runtime: Runtime) -> Api:
    return Api(runtime)


class DeviceKeys:
    """Tests only: a key provider that also opens *person* keys, standing in for officials' own devices so
    signatures can be made in one call. The server's providers refuse person keys (signing.keys)."""

    def __init__(self, pki: Any) -> None:
        from signing.keys.pkcs12 import Pkcs12Keys

        self._inner = Pkcs12Keys(pki)

    def signer_for(self, key_id: str) -> Any:
        return self._inner._load(key_id, None).signer

    def chain_for(self, key_id: str) -> list[Any]:
        return list(self._inner._load(key_id, None).chain)
