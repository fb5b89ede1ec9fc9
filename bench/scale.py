"""The scale benchmark (issue 17, point 6): a database grown through the services, then measured over real HTTP.

The builder registers dossiers through the use cases the pages call (``Intake.intake``, ``Reception.decide``,
``TaskDesk.complete``, the leader's two-step signature made with their key file as their device would,
``PersonalSignatures.complete``) and lets the real workers prepare, seal and number the papers — no SQL insert.
The mix: three communes (xã Hòa An with the demo people, xã Phú Mỹ and phường Đông Thành with bench officials),
two procedures (household business registration, birth registration), a fifth filed online and accepted by
reception; most dossiers finished with a signed result, some refused, a few left lying past their time limit
(late), and at every measured size the newest ≈ 2 % left open at each step of the way and ≈ 0.5 % waiting in
the reception queue. Time runs on a simulated clock spread over 18 months (``--span-months``).

Growth is incremental: ``--sizes 500,2000`` grows the same database to 500, measures, grows it to 2,000,
measures again. The state of the builder (how many dossiers, which are left open) lives in
``<var>/bench-scale.json``; with ``--var-dir`` (and ``--database-url`` for PostgreSQL) a later run continues
from there (the dossiers left open by the last stage are finished first, as the office would).

At each size a ``motcua serve`` process is started on the database and measured over HTTP: the specialist's
``GET /api/tasks``, the task list under 20 and 50 concurrent clients, ``/api/statistics`` for 18 months, the
public lookup, a dossier read, database and stored-object bytes per dossier — beside the build's dossiers/s and
CPU per dossier and a baseline of this machine measured in the same run (a bare ``SELECT 1`` round trip, one
stock pyHanko signature of a small PDF), with the issue's targets.

Run: ``.venv/bin/python -m bench.scale --database sqlite --sizes 500,2000`` (``make bench-scale N=… DB=…``).
PostgreSQL without ``--database-url``: a throw-away cluster like the tests' (tests/integration/postgres.py).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import io
import json
import logging
import math
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog
from sqlalchemy import text

from dossiers.calendar import VN_TZ
from dossiers.clock import SimulatedClock
from dossiers.model import Person, Role
from motcua.app import DEMO_PASSWORD, build_runtime, demo_password_hash, ensure_keys, init_state
from motcua.demo import sample_pdf
from motcua.settings import Settings
from persistence import calendar
from persistence.uow import make_engine
from services.intake import Applicant
from services.uploads import Upload

PROGRESS_FILE = "bench-scale.json"
HOUSEHOLD, BIRTH = "1.001612", "1.001193"
CITIZEN, ADMIN = "congdan1", "quantri.tinh"
STEPS = ("accept", "review", "approve", "sign_result", "register_number", "return_result")
END = len(STEPS)


@dataclass(frozen=True)
class Mix:
    """Shares of the dossiers; the open and waiting ones are the newest of each measured size."""

    open: float = 0.02  # a province's open user tasks: ≈ 2 % of its dossiers
    reception: float = 0.005  # filed online, not yet looked at by reception
    refused: float = 0.04
    late: float = 0.004  # left at review, never decided: late once the time limit has passed
    online: float = 0.2


BATCH = 10  # dossiers registered together on one working morning
TARGETS = {
    "tasks_50": "p95 ≤ 100 ms",
    "statistics": "≤ 1 s",
    "database": "≤ 20 KB",
    "objects": "≤ 200 KB",
    "cpu": "≤ 150 ms",
}


@dataclass(frozen=True)
class Commune:
    code: str
    reception: str
    business: str  # specialist of the economic department (household business)
    civil: str  # specialist of Tư pháp - Hộ tịch (birth registration)
    leader: str
    clerk: str
    share: float


COMMUNES = (
    Commune("000.00.31.H99", "tiepnhan.xa1", "chuyenvien1.xa1", "tuphap.xa1", "lanhdao.xa1", "vanthu.xa1", 0.5),
    Commune("000.00.32.H99", "tiepnhan.xa2", "chuyenvien.xa2", "tuphap.xa2", "lanhdao.xa2", "vanthu.xa2", 0.3),
    Commune("000.00.33.H99", "tiepnhan.xa3", "chuyenvien.xa3", "tuphap.xa3", "lanhdao.xa3", "vanthu.xa3", 0.2),
)
# the bench officials of the two other communes: (username, full name, role, department suffix)
BENCH_PEOPLE = {
    "000.00.32.H99": (
        ("tiepnhan.xa2", "Đinh Thị Thảo", Role.RECEPTION, "TTPVHCC"),
        ("chuyenvien.xa2", "Mai Văn Khánh", Role.SPECIALIST, "PKT"),
        ("tuphap.xa2", "Hà Thị Ngọc", Role.SPECIALIST, "TPHT"),
        ("lanhdao.xa2", "Trịnh Văn Quý", Role.LEADER, "VP"),
        ("vanthu.xa2", "Cao Thị Loan", Role.CLERK, "VP"),
    ),
    "000.00.33.H99": (
        ("tiepnhan.xa3", "Lưu Thị Hạnh", Role.RECEPTION, "TTPVHCC"),
        ("chuyenvien.xa3", "Tô Minh Đức", Role.SPECIALIST, "KTHTDT"),
        ("tuphap.xa3", "Kiều Thị Vân", Role.SPECIALIST, "TPHT"),
        ("lanhdao.xa3", "La Văn Thành", Role.LEADER, "VP"),
        ("vanthu.xa3", "Mạc Thị Duyên", Role.CLERK, "VP"),
    ),
}
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hùng", "Lan", "Long", "Mai", "Nam", "Phương", "Sơn", "Trang"]


@dataclass
class Item:
    """One dossier of the plan: where it is and where the builder leaves it."""

    index: int
    procedure: str
    commune: str
    online: bool
    at: int  # index in STEPS of the next step to take
    stop: int  # take steps up to (not including) this one; END: finished
    refuse: bool = False
    late: bool = False  # left at review for good
    code: str = ""

    @property
    def intended(self) -> str:
        if self.stop == 0:
            return "waiting_for_reception"
        if self.late:
            return "late"
        if self.refuse and self.stop == END:
            return "refused"
        return "finished" if self.stop == END else f"open_at_{STEPS[self.stop]}"


@dataclass
class Progress:
    """What ``<var>/bench-scale.json`` keeps between runs."""

    built: int = 0
    pending: list[dict[str, Any]] = field(default_factory=list)  # items left open by the last stage (not late)
    states: dict[str, int] = field(default_factory=dict)  # intended state → dossiers, over the whole database
    lookup: dict[str, str] = field(default_factory=dict)  # one finished dossier: code, id number, reception
    first_day: str = ""
    planned: str = ""  # when the last batch was due (ISO): batches keep their pace, weekends do not add up

    @classmethod
    def load(cls, path: Path) -> Progress:
        if not path.exists():
            return cls()
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)


def id_number(index: int) -> str:
    return f"0{10 + index % 90:02d}{index % 2}{index:08d}"[:12]


def plan(index: int, target: int, mix: Mix) -> Item:
    """Deterministic per index: procedure, commune, channel and where the dossier is left."""
    rnd = random.Random(index)
    procedure = HOUSEHOLD if rnd.random() < 0.7 else BIRTH
    roll, commune = rnd.random(), COMMUNES[-1].code
    for c in COMMUNES:
        if roll < c.share:
            commune = c.code
            break
        roll -= c.share
    online = rnd.random() < mix.online
    item = Item(index, procedure, commune, online, 0 if online else 1, END)
    from_end = target - 1 - index  # 0 for the newest dossier of the stage
    waiting, open_ = math.ceil(target * mix.reception), math.ceil(target * mix.open)
    fate = rnd.random()
    if from_end < waiting:
        item.online, item.at, item.stop = True, 0, 0
    elif from_end < waiting + open_:
        item.stop = 1 if rnd.random() < 0.4 else rnd.randint(2, END - 1)  # the step it waits at
    elif fate < mix.late:
        item.stop, item.late = 1, True  # at review, never decided
    elif fate < mix.late + mix.refused:
        item.refuse = True
    return item


# ---------------------------------------------------------------------- the builder


class Builder:
    """Grows the database through the use cases; see the module docstring."""

    def __init__(self, runtime: Any, progress: Progress, span_months: float, final_size: int, mix: Mix) -> None:
        self.runtime = runtime
        self.mix = mix
        self.out: Callable[[str], None] = print
        self.progress = progress
        self.clock: SimulatedClock = runtime.clock
        self.calendar = calendar.working_calendar(runtime.db)
        self.gap = dt.timedelta(days=span_months * 30.44 * BATCH / max(final_size, 1))
        self.people: dict[str, Person] = {}
        self.intended: dict[str, str] = {}  # code → intended state, for the dossiers this process touched
        self.papers = {
            HOUSEHOLD: (
                ("giay_de_nghi", "giay-de-nghi.pdf", sample_pdf("Giay de nghi dang ky ho kinh doanh")),
                ("giay_to_phap_ly", "cccd.pdf", sample_pdf("Can cuoc cong dan")),
            ),
            BIRTH: (
                ("to_khai", "to-khai.pdf", sample_pdf("To khai dang ky khai sinh")),
                ("giay_chung_sinh", "giay-chung-sinh.pdf", sample_pdf("Giay chung sinh")),
            ),
        }
        self.devices: dict[str, Any] = {}

    def person(self, username: str) -> Person:
        if username not in self.people:
            found = self.runtime.accounts.get(username)
            if found is None:
                raise SystemExit(f"no account {username}: the state was not prepared by bench.scale")
            self.people[username] = found
        return self.people[username]

    # ------------------------------------------------------------------ time

    def next_morning(self, after: dt.datetime) -> dt.datetime:
        """The first working day's 08:00 (Vietnam time) at or after ``after``."""
        day = after.astimezone(VN_TZ).date()
        moment = dt.datetime.combine(day, dt.time(8), VN_TZ)
        if moment < after:
            day += dt.timedelta(days=1)
        while not self.calendar.is_working_day(day):
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time(8), VN_TZ)

    def settle(self) -> None:
        self.runtime.engine.fire_due_timers(self.clock.now())
        self.runtime.worker.drain()

    def later(self, minutes: int) -> None:
        self.clock.advance(dt.timedelta(minutes=minutes))
        self.settle()

    # ------------------------------------------------------------------ growing

    def grow(self, target: int) -> dict[str, float]:
        """From ``progress.built`` to ``target`` dossiers; returns wall seconds and CPU seconds of the stage."""
        began, cpu = time.perf_counter(), time.process_time()
        if target <= self.progress.built:  # measure only: what was left open stays open
            return {"wall_s": 0.0, "cpu_s": 0.0, "added": 0}
        pending = [Item(**p) for p in self.progress.pending]
        self.progress.pending = []
        start = self.progress.built
        if not self.progress.first_day:
            self.progress.first_day = self.clock.now().astimezone(VN_TZ).date().isoformat()
        for p in pending:  # the office catches up: what was left open is finished now
            self.progress.states[p.intended] -= 1
            p.stop = END
            self.progress.states[p.intended] = self.progress.states.get(p.intended, 0) + 1
        self._take_steps(pending)
        for first in range(start, target, BATCH):
            planned = dt.datetime.fromisoformat(self.progress.planned) if self.progress.planned else self.clock.now()
            planned += self.gap
            self.progress.planned = planned.isoformat()
            self.clock.set(max(self.clock.now(), self.next_morning(planned)))
            items = [plan(i, target, self.mix) for i in range(first, min(first + BATCH, target))]
            for item in items:
                self._register(item)
            self.settle()
            self._take_steps(items)
            for item in items:
                self.progress.states[item.intended] = self.progress.states.get(item.intended, 0) + 1
                if item.stop < END and not item.late:
                    self.progress.pending.append(asdict(item))
                elif item.stop == END and not item.refuse and item.procedure == HOUSEHOLD:
                    self.progress.lookup = {
                        "code": item.code,
                        "id_number": id_number(item.index),
                        "reception": self._commune(item).reception,
                    }
            self.progress.built = items[-1].index + 1
            if self.progress.built % 100 == 0 or self.progress.built == target:
                spent = time.perf_counter() - began
                self.out(f"  {self.progress.built:,} dossiers, {(self.progress.built - start) / spent:.2f}/s")
        return {"wall_s": time.perf_counter() - began, "cpu_s": time.process_time() - cpu, "added": target - start}

    def _commune(self, item: Item) -> Commune:
        return next(c for c in COMMUNES if c.code == item.commune)

    def _register(self, item: Item) -> None:
        rnd = random.Random(item.index * 7919)
        name = f"{rnd.choice(FAMILY)} Văn {rnd.choice(GIVEN)}"
        commune = self._commune(item)
        actor = self.person(CITIZEN if item.online else commune.reception)
        if item.procedure == HOUSEHOLD:
            details: dict[str, Any] = {
                "business_name": f"Tạp hóa {rnd.choice(GIVEN)} {rnd.choice(GIVEN)}",
                "business_address": "Thôn Đông, tỉnh Demo",
                "business_lines": ["Bán lẻ lương thực, thực phẩm"],
                "capital_vnd": rnd.choice([30, 50, 100, 300]) * 1_000_000,
                "owner_birth_date": dt.date(
                    rnd.randint(1960, 2002), rnd.randint(1, 12), rnd.randint(1, 28)
                ).isoformat(),
                "owner_address": "Tỉnh Demo",
            }
        else:
            born = self.clock.now().astimezone(VN_TZ).date() - dt.timedelta(days=rnd.randint(3, 50))
            details = {
                "child_name": f"{rnd.choice(FAMILY)} Minh {rnd.choice(GIVEN)}",
                "child_birth_date": born.isoformat(),
                "child_gender": rnd.choice(["Nam", "Nữ"]),
                "birth_place": "Trạm y tế xã, tỉnh Demo",
                "mother_name": f"{rnd.choice(FAMILY)} Thị {rnd.choice(GIVEN)}",
            }
        uploads = [
            Upload(key, filename, "application/pdf", io.BytesIO(data))
            for key, filename, data in self.papers[item.procedure]
        ]
        view = self.runtime.intake.intake(
            actor,
            item.procedure,
            Applicant(name, id_number(item.index), "0912345678"),
            uploads,
            agency_code=item.commune,
            channel="online" if item.online else "counter",
            details=details,
        )
        item.code = str(view["code"])

    def _take_steps(self, items: list[Item]) -> None:
        """Every item from its ``at`` to its ``stop``, step by step, half an hour apart."""
        for step_index, step in enumerate(STEPS):
            todo = [i for i in items if i.at <= step_index < i.stop and i.code]
            if not todo:
                continue
            if step == "accept":
                for item in todo:
                    self.runtime.reception.decide(self.person(self._commune(item).reception), item.code, "accept")
            elif step == "sign_result":
                self._sign(todo)
            else:
                self._complete(step, todo)
            for item in todo:
                item.at = step_index + 1
                if step == "review" and item.refuse:
                    item.at = item.stop = END
            self.later(30)
        for item in items:
            self.intended[item.code] = item.intended

    def _who(self, step: str, item: Item) -> str:
        commune = self._commune(item)
        return {
            "review": commune.business if item.procedure == HOUSEHOLD else commune.civil,
            "approve": commune.leader,
            "register_number": commune.clerk,
            "return_result": commune.reception,
        }[step]

    def _complete(self, step: str, todo: list[Item]) -> None:
        by_person: dict[str, list[Item]] = {}
        for item in todo:
            by_person.setdefault(self._who(step, item), []).append(item)
        for username, mine in by_person.items():
            person = self.person(username)
            ids = {(t["dossier_code"], t["activity_id"]): t["id"] for t in self.runtime.tasks.tasks_for(person)}
            for item in mine:
                task_id = ids.get((item.code, step))
                if task_id is None:
                    raise RuntimeError(f"{item.code}: no {step} task for {username}")
                decision = {"review": "refuse" if item.refuse else "approve", "approve": "approve"}.get(step)
                comment = "Ngành, nghề đăng ký thuộc danh mục cấm kinh doanh" if item.refuse else "Hồ sơ hợp lệ"
                self.runtime.tasks.complete(person, task_id, decision, comment if decision else None)

    def _sign(self, todo: list[Item]) -> None:
        """The leader's device: the key file signs what the server prepared (their USB token in production)."""
        from signing.device import DeviceClient

        by_leader: dict[str, set[str]] = {}
        for item in todo:
            by_leader.setdefault(self._commune(item).leader, set()).add(item.code)
        for username, codes in by_leader.items():
            leader = self.person(username)
            if username not in self.devices:
                key_file = self.runtime.pki.pkcs12_path(f"person:{username}")
                self.devices[username] = DeviceClient(key_file.read_bytes(), self.runtime.settings.key_passphrase)
            device = self.devices[username]
            signed = set()
            for pending in self.runtime.signatures.pending_for(leader):
                if pending.dossier_code in codes:
                    value = device.sign(pending.data_to_sign, pending.digest_algorithm)
                    self.runtime.signatures.complete(leader, pending.id, value)
                    signed.add(pending.dossier_code)
            if signed != codes:
                raise RuntimeError(f"nothing to sign for {sorted(codes - signed)}")


def prepare(settings: Settings) -> None:
    """``motcua init`` (idempotent) and the bench officials of the two other communes with their keys."""
    init_state(settings)
    runtime = build_runtime(settings)
    try:
        added = False
        for agency, people in BENCH_PEOPLE.items():
            for username, full_name, role, department in people:
                if runtime.accounts.get(username) is None:
                    runtime.accounts.add(
                        username,
                        DEMO_PASSWORD,
                        full_name,
                        role,
                        agency,
                        f"{agency}-{department}",
                        runtime.clock.now(),
                        password_hash=demo_password_hash(),
                    )
                    added = True
        if added:
            ensure_keys(runtime)
    finally:
        runtime.close()


# ---------------------------------------------------------------------- measuring


def quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


class Http:
    """httpx against the server, logged in as the people the measures need."""

    def __init__(self, base_url: str, connections: int = 60) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.client = httpx.Client(base_url=base_url, timeout=120.0, limits=limits)
        self.tokens: dict[str, str] = {}

    def headers(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            r = self.client.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
            r.raise_for_status()
            self.tokens[username] = str(r.json()["access_token"])
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def timed(self, path: str, username: str | None = None, **params: str) -> tuple[float, httpx.Response]:
        headers = self.headers(username) if username else {}
        began = time.perf_counter()
        r = self.client.get(path, headers=headers, params=params)
        return (time.perf_counter() - began) * 1000, r


def concurrent_lists(http: Http, users: list[str], clients: int, rounds: int) -> dict[str, float]:
    """``clients`` threads, each reading its task list ``rounds`` times as fast as it can."""
    for u in users:
        http.headers(u)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def client(n: int) -> None:
        nonlocal failures
        for _ in range(rounds):
            try:
                ms, r = http.timed("/api/tasks", users[n % len(users)])
                ok = r.status_code == 200
            except httpx.HTTPError:
                ms, ok = 0.0, False
            with lock:
                if ok:
                    latencies.append(ms)
                else:
                    failures += 1

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - began
    p50, p95 = quantiles(latencies) if latencies else (float("nan"), float("nan"))
    return {"p50_ms": p50, "p95_ms": p95, "rps": len(latencies) / wall, "failed": failures}


def median_of(http: Http, repeat: int, path: str, username: str | None = None, **params: str) -> tuple[float, Any]:
    timings, last = [], None
    for _ in range(repeat):
        ms, r = http.timed(path, username, **params)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:300]}")
        timings.append(ms)
        last = r.json()
    return statistics.median(timings), last


def database_bytes(settings: Settings) -> int:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        main = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in (main, Path(f"{main}-wal")) if p.exists())
    db = make_engine(url)
    try:
        with db.connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    finally:
        db.dispose()


def objects_bytes(settings: Settings) -> int:
    return sum(p.stat().st_size for p in settings.objects_dir.rglob("*") if p.is_file())


def baseline(settings: Settings) -> dict[str, float]:
    """This machine: a bare ``SELECT 1`` round trip on the database, one stock pyHanko signature of a small PDF."""
    from bench.signing import make_pdf, rsa_material, sign_with, simple_signer_for

    db = make_engine(settings.resolved_database_url)
    try:
        with db.connect() as conn:
            conn.execute(text("SELECT 1"))
            began = time.perf_counter()
            for _ in range(500):
                conn.execute(text("SELECT 1"))
            select_one = (time.perf_counter() - began) * 1000 / 500
    finally:
        db.dispose()
    pdf = make_pdf(1)
    key, cert = rsa_material()
    signer = simple_signer_for(key, cert)
    sign_with(pdf, signer)  # warm up
    timings = []
    for _ in range(5):
        began = time.perf_counter()
        sign_with(pdf, signer)
        timings.append((time.perf_counter() - began) * 1000)
    return {"select_1_ms": select_one, "pyhanko_sign_ms": statistics.median(timings)}


@contextlib.contextmanager
def served(settings: Settings, log_dir: Path) -> Iterator[str]:
    """``motcua serve`` on the bench's state, as tests/integration/server.py starts it; yields its base URL."""
    from tests.integration.server import MotcuaServer, free_port

    extra = {"MOTCUA_DATABASE_URL": settings.database_url} if settings.database_url else {}
    server = MotcuaServer(var_dir=settings.var_dir, log_dir=log_dir, port=free_port(), extra_env=extra)
    try:
        server.start(timeout=120)
        yield server.base_url
    finally:
        server.close()


def measure(settings: Settings, progress: Progress, log_dir: Path, rounds: int) -> dict[str, Any]:
    with served(settings, log_dir) as base_url:
        http = Http(base_url)
        try:
            specialist = COMMUNES[0].business
            list_ms, items = median_of(http, 5, "/api/tasks", specialist)
            users = [c.business for c in COMMUNES] + [c.civil for c in COMMUNES] + [c.leader for c in COMMUNES]
            c20 = concurrent_lists(http, users, 20, rounds)
            c50 = concurrent_lists(http, users, 50, rounds)
            now = dt.datetime.fromisoformat(http.client.get("/api/health").json()["now"]).astimezone(VN_TZ).date()
            first = min(dt.date.fromisoformat(progress.first_day), now - dt.timedelta(days=548))
            stats_ms, _ = median_of(
                http, 3, "/api/statistics", ADMIN, **{"from": first.isoformat(), "to": now.isoformat()}
            )
            lookup = progress.lookup
            lookup_ms = dossier_ms = float("nan")
            if lookup:
                lookup_ms, _ = median_of(
                    http, 3, "/api/public/tracking", None, code=lookup["code"], id_number=lookup["id_number"]
                )
                dossier_ms, _ = median_of(http, 5, f"/api/dossiers/{lookup['code']}", lookup["reception"])
        finally:
            http.client.close()
    return {
        "list_ms": list_ms,
        "list_items": len(items),
        "c20": c20,
        "c50": c50,
        "statistics_ms": stats_ms,
        "lookup_ms": lookup_ms,
        "dossier_ms": dossier_ms,
        "database_bytes": database_bytes(settings),
        "objects_bytes": objects_bytes(settings),
    }


# ---------------------------------------------------------------------- the table

ROWS = (
    "dossiers: finished / refused / open tasks (late) / at reception",
    "build: dossiers/s (this stage)",
    "build: CPU per dossier",
    "`GET /api/tasks` for one specialist (items returned)",
    "task list, 20 clients: p50 / p95, requests/s",
    "task list, 50 clients: p50 / p95, requests/s",
    "`/api/statistics`, 18 months",
    "public lookup (`/api/public/tracking`)",
    "dossier read (`GET /api/dossiers/{code}`)",
    "database size (per dossier)",
    "stored objects (per dossier)",
    "baseline: `SELECT 1` round trip",
    "baseline: one stock pyHanko signature",
)


def _clients(c: dict[str, float]) -> str:
    failed = f", {int(c['failed'])} failed" if c["failed"] else ""
    return f"{c['p50_ms']:,.0f} / {c['p95_ms']:,.0f} ms, {c['rps']:.1f}{failed}"


def table(size: int, database: str, build: dict[str, float], m: dict[str, Any], base: dict[str, float],
          states: dict[str, int]) -> str:  # fmt: skip
    opened = sum(v for k, v in states.items() if k.startswith("open_at_")) + states.get("late", 0)
    added = max(build["added"], 1)
    values = (
        f"{states.get('finished', 0):,} / {states.get('refused', 0):,} / {opened:,} ({states.get('late', 0):,}) / "
        f"{states.get('waiting_for_reception', 0):,}",
        f"{build['added'] / build['wall_s']:.2f} ({build['added']:,} in {build['wall_s']:,.0f} s)"
        if build["added"]
        else "—",
        f"{build['cpu_s'] * 1000 / added:,.0f} ms" if build["added"] else "—",
        f"{m['list_ms']:,.0f} ms ({m['list_items']})",
        _clients(m["c20"]),
        _clients(m["c50"]),
        f"{m['statistics_ms']:,.0f} ms",
        f"{m['lookup_ms']:,.1f} ms",
        f"{m['dossier_ms']:,.1f} ms",
        f"{m['database_bytes'] / 1e6:,.1f} MB ({m['database_bytes'] / size / 1000:,.1f} KB)",
        f"{m['objects_bytes'] / 1e6:,.1f} MB ({m['objects_bytes'] / size / 1000:,.1f} KB)",
        f"{base['select_1_ms']:.3f} ms",
        f"{base['pyhanko_sign_ms']:,.0f} ms",
    )
    targets = ("", "", TARGETS["cpu"], "", "", TARGETS["tasks_50"], TARGETS["statistics"], "", "")
    targets += (TARGETS["database"], TARGETS["objects"], "", "")
    lines = [f"| {database}, {size:,} dossiers | measured | target |", "|---|---|---|"]
    lines += [f"| {row} | {value} | {target} |" for row, value, target in zip(ROWS, values, targets, strict=True)]
    return "\n".join(lines)


# ---------------------------------------------------------------------- the command


def quiet() -> None:
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def run(
    settings: Settings,
    sizes: list[int],
    database: str,
    *,
    span_months: float = 18.0,
    rounds: int = 5,
    measure_http: bool = True,
    mix: Mix = Mix(),
    out: Callable[[str], None] = print,
) -> Builder:
    """Grow the state of ``settings`` to each size in turn and print its table; returns the last builder."""
    prepare(settings)
    progress_path = settings.var_dir / PROGRESS_FILE
    progress = Progress.load(progress_path)
    builder: Builder | None = None
    for size in sorted(sizes):
        if size < progress.built:
            out(f"{size:,} skipped: the database already holds {progress.built:,} dossiers")
            continue
        runtime = build_runtime(settings)
        try:
            if not isinstance(runtime.clock, SimulatedClock):
                raise SystemExit("the bench needs the simulated clock (MOTCUA_DEMO_CLOCK)")
            builder = Builder(runtime, progress, span_months, max(sizes), mix)
            builder.out = out
            grown = builder.grow(size)
        finally:
            runtime.close()
        progress.save(progress_path)
        rate = grown["added"] / grown["wall_s"] if grown["added"] else 0.0
        out(f"built {grown['added']:,} dossiers in {grown['wall_s']:,.0f} s ({rate:.2f}/s)")
        logs = settings.var_dir.parent / "logs"
        measured = measure(settings, progress, logs, rounds) if measure_http else _offline(settings)
        base = baseline(settings)  # right after the measures: the same machine under the same load
        out(table(size, database, grown, measured, base, progress.states))
        sys.stdout.flush()
    if builder is None:
        raise SystemExit("nothing to build")
    return builder


def _offline(settings: Settings) -> dict[str, Any]:
    """Without a server (the smoke test): the byte counts are real, the HTTP rows empty."""
    nan = float("nan")
    clients = {"p50_ms": nan, "p95_ms": nan, "rps": nan, "failed": 0}
    return {
        "list_ms": nan,
        "list_items": 0,
        "c20": clients,
        "c50": clients,
        "statistics_ms": nan,
        "lookup_ms": nan,
        "dossier_ms": nan,
        "database_bytes": database_bytes(settings),
        "objects_bytes": objects_bytes(settings),
    }


def _leave(number: int, _frame: object) -> None:
    raise SystemExit(128 + number)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--dossiers", type=int, help="one size (the same as --sizes N)")
    parser.add_argument("--sizes", default="", help="comma-separated sizes grown in one database, e.g. 500,2000")
    parser.add_argument("--database-url", help="an existing PostgreSQL database (kept, so the next run continues)")
    parser.add_argument("--var-dir", type=Path, help="keep the state here (default: a temporary directory)")
    parser.add_argument("--span-months", type=float, default=18.0, help="the simulated time the dossiers cover")
    parser.add_argument("--rounds", type=int, default=5, help="task lists each concurrent client reads")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.dossiers:
        sizes.append(args.dossiers)
    if not sizes:
        parser.error("give --dossiers N or --sizes N1,N2,…")
    quiet()
    for number in (signal.SIGTERM, signal.SIGINT):  # stop the throw-away PostgreSQL on the way out
        signal.signal(number, _leave)
    with contextlib.ExitStack() as stack:
        if args.var_dir is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="motcua-scale-")))
            var_dir = tmp / "var"
        else:
            var_dir = args.var_dir.resolve()
        (var_dir.parent / "logs").mkdir(parents=True, exist_ok=True)
        url = args.database_url
        if args.database == "postgresql" and url is None:
            from tests.integration.postgres import start_cluster

            cluster = start_cluster()
            stack.callback(cluster.stop)
            url = cluster.url()
        settings = Settings(var_dir=var_dir, database_url=url, demo_clock=True)
        print(f"{args.database}: {url or settings.resolved_database_url} — state in {var_dir}")
        counts = Counter(Progress.load(var_dir / PROGRESS_FILE).states)
        if counts:
            print(f"continuing from {sum(counts.values()):,} dossiers")
        run(settings, sizes, args.database, span_months=args.span_months, rounds=args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
