"""`motcua demo`: drive N dossiers through the running system over its HTTP API on the simulated clock.

Reception registers dossiers every working morning; specialists decide (mostly approve, some supplement
requests and refusals, a few left lying until they are late); the leader approves (sometimes sends one back);
citizens bring supplements a day later; reception hands results over. Workers and the timer scheduler run
inside the server, as in production. At the end the figures are printed the way the one-stop shops report
them (received, resolved, on time, early, late) with where the signed results are.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from documents.samples import sample_pdf
from dossiers.calendar import VN_TZ, WorkingCalendar
from dossiers.codes import parse_dossier_code
from dossiers.errors import MotcuaError, NotFound
from dossiers.lifecycle import Timeliness, timeliness
from signing.device import DeviceClient
from workflows.operaton.engine import OperatonEngine

if TYPE_CHECKING:
    from motcua.app import Runtime

PROCEDURE = "1.001612"
PASSWORD = "motcua-demo"
RECEPTION, SPECIALISTS, LEADER, ADMIN = (
    "tiepnhan.xa1",
    ("chuyenvien1.xa1", "chuyenvien2.xa1"),
    "lanhdao.xa1",
    "quantri.tinh",
)
CLERK = "vanthu.xa1"
FINAL = {"returned", "refused"}
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Văn", "Thị", "Minh", "Thu", "Đức", "Ngọc", "Quang", "Thanh"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hùng", "Lan", "Long", "Mai", "Nam", "Phương", "Sơn", "Trang", "Yến"]
TRADES = [
    ("Tạp hóa", "Bán lẻ lương thực, thực phẩm"),
    ("Quán cà phê", "Dịch vụ phục vụ đồ uống"),
    ("Sửa xe máy", "Bảo dưỡng, sửa chữa mô tô, xe máy"),
    ("May đo", "May trang phục"),
    ("Quán cơm", "Dịch vụ ăn uống"),
]


@dataclass
class Plan:
    """What the simulated officials will do with one dossier."""

    outcome: str  # approve | supplement | refuse | late
    leader_returns: bool = False
    supplement_seen_at: dt.datetime | None = None
    supplemented_at: dt.datetime | None = None
    returned_once: bool = False


@dataclass
class DemoResult:
    received: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    timeliness: Counter[str] = field(default_factory=Counter)
    results: list[str] = field(default_factory=list)
    started: str = ""
    ended: str = ""


class DemoDriver:
    def __init__(
        self,
        client: httpx.Client,
        dossiers: int,
        seed: int = 2026,
        log: Callable[[str], None] = print,
        leader_device: DeviceClient | None = None,
    ):
        self.http = client
        self.leader_device = leader_device  # the leader's own signing device (the server never has this key)
        self.total = dossiers
        self.random = random.Random(seed)
        self.log = log
        self.calendar = WorkingCalendar.vietnam()
        self.tokens: dict[str, str] = {}
        self.plans: dict[str, Plan] = {}
        # the mix of what officials will do: mostly approvals, some supplements, refusals and late dossiers
        mix = {"approve": 0.65, "supplement": 0.15, "refuse": 0.10, "late": 0.10}
        self.outcomes = [name for name, share in mix.items() for _ in range(max(1, round(share * dossiers)))]
        self.random.shuffle(self.outcomes)

    # ------------------------------------------------------------------ HTTP helpers

    def _headers(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            r = self.http.post("/api/auth/token", json={"username": user, "password": PASSWORD})
            r.raise_for_status()
            self.tokens[user] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def _call(self, method: str, path: str, user: str, **kw: Any) -> httpx.Response:
        r = self.http.request(method, path, headers=self._headers(user), **kw)
        if r.status_code == 401:  # tokens expire on the simulated clock as well
            self.tokens.pop(user, None)
            r = self.http.request(method, path, headers=self._headers(user), **kw)
        return r

    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.http.get("/api/health").json()["now"])

    def wait_idle(self, seconds: float = 60.0) -> None:
        """Until the server's workers have no external task left (bounded)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.http.get("/api/health").json().get("pending_external_tasks") in (0, None):
                time.sleep(0.05)
                if self.http.get("/api/health").json().get("pending_external_tasks") in (0, None):
                    return
            time.sleep(0.05)
        raise TimeoutError("the server's workers did not finish within the time limit")

    def advance_to(self, moment: dt.datetime) -> None:
        delta = (moment - self.now()).total_seconds()
        if delta > 0:
            r = self._call("POST", "/api/admin/clock/advance", ADMIN, json={"hours": delta / 3600})
            r.raise_for_status()

    # ------------------------------------------------------------------ the officials' day

    def _pdf(self, title: str) -> bytes:
        return sample_pdf(title)

    def _submit_one(self) -> None:
        rnd = self.random
        name = f"{rnd.choice(FAMILY)} {rnd.choice(MIDDLE)} {rnd.choice(GIVEN)}"
        prefix, line = rnd.choice(TRADES)
        details = {
            "business_name": f"{prefix} {rnd.choice(GIVEN)} {rnd.choice(GIVEN)}",
            "business_address": f"Thôn {rnd.choice(['Đông', 'Tây', 'Nam', 'Bắc'])}, xã Hòa An, tỉnh Demo",
            "business_lines": [line],
            "capital_vnd": rnd.choice([30, 50, 80, 100, 150, 300]) * 1_000_000,
            "owner_birth_date": dt.date(rnd.randint(1960, 2002), rnd.randint(1, 12), rnd.randint(1, 28)).isoformat(),
            "owner_address": "Xã Hòa An, tỉnh Demo",
        }
        files = {
            "paper.giay_de_nghi": (
                "giay-de-nghi.pdf",
                self._pdf("Giay de nghi dang ky ho kinh doanh"),
                "application/pdf",
            ),
            "paper.giay_to_phap_ly": ("cccd.pdf", self._pdf("Can cuoc cong dan"), "application/pdf"),
        }
        data = {
            "procedure_code": PROCEDURE,
            "applicant_name": name,
            "applicant_id_number": f"0{rnd.randint(10, 99)}0{rnd.randint(10_000_000, 99_999_999)}",
            "details": json.dumps(details, ensure_ascii=False),
        }
        r = self._call("POST", "/api/dossiers", RECEPTION, data=data, files=files)
        r.raise_for_status()
        outcome = self.outcomes[len(self.plans) % len(self.outcomes)]
        self.plans[r.json()["code"]] = Plan(outcome, leader_returns=rnd.random() < 0.05)

    def _specialists(self, now: dt.datetime) -> None:
        for user in SPECIALISTS:
            for task in self._call("GET", "/api/tasks", user).json():
                plan = self.plans.get(task["dossier_code"])
                if plan is None or task["activity_id"] != "review":
                    continue
                due = dt.datetime.fromisoformat(task["due_at"]) if task["due_at"] else now
                if plan.outcome == "late" and now <= due:
                    continue  # left lying on a desk until it is late
                decision = {"supplement": "supplement", "refuse": "refuse"}.get(plan.outcome, "approve")
                if decision == "supplement" and plan.supplemented_at is not None:
                    decision = "approve"  # after the supplement it is complete
                comment = {
                    "supplement": "Đề nghị bổ sung bản sao hợp đồng thuê địa điểm kinh doanh",
                    "refuse": "Ngành, nghề đăng ký thuộc danh mục cấm kinh doanh",
                }.get(decision, "Hồ sơ hợp lệ")
                self._call("POST", f"/api/tasks/{task['id']}/claim", user)
                self._call(
                    "POST", f"/api/tasks/{task['id']}/complete", user, json={"decision": decision, "comment": comment}
                )

    def _leader(self) -> None:
        for task in self._call("GET", "/api/tasks", LEADER).json():
            plan = self.plans.get(task["dossier_code"])
            if plan is None or task["activity_id"] != "approve":
                continue
            decision = "approve"
            if plan.leader_returns and not plan.returned_once:
                decision, plan.returned_once = "return", True
            self._call("POST", f"/api/tasks/{task['id']}/complete", LEADER, json={"decision": decision})

    def _sign_and_register(self) -> None:
        """The leader signs on their device what the server prepared; the clerk registers number and date."""
        if self.leader_device is not None:
            for pending in self._call("GET", "/api/signatures/pending", LEADER).json():
                value = self.leader_device.sign(base64.b64decode(pending["data_to_sign"]), pending["digest_algorithm"])
                body = {"signature_value": base64.b64encode(value).decode("ascii")}
                self._call("POST", f"/api/signatures/{pending['id']}", LEADER, json=body).raise_for_status()
        self.wait_idle()
        for task in self._call("GET", "/api/tasks", CLERK).json():
            if task["dossier_code"] in self.plans and task["activity_id"] == "register_number":
                self._call("POST", f"/api/tasks/{task['id']}/complete", CLERK, json={}).raise_for_status()

    def _reception(self, now: dt.datetime) -> None:
        for task in self._call("GET", "/api/tasks", RECEPTION).json():
            if task["dossier_code"] in self.plans and task["activity_id"] == "return_result":
                self._call("POST", f"/api/tasks/{task['id']}/complete", RECEPTION, json={})
        for code, plan in self.plans.items():
            if plan.outcome != "supplement" or plan.supplemented_at is not None:
                continue
            view = self._call("GET", f"/api/dossiers/{code}", RECEPTION).json()
            if view["status"] == "supplement_requested":
                plan.supplement_seen_at = plan.supplement_seen_at or now
                if now - plan.supplement_seen_at >= dt.timedelta(hours=18):  # the citizen comes back next day
                    files = {"paper.giay_to_phap_ly": ("bo-sung.pdf", self._pdf("Ho so bo sung"), "application/pdf")}
                    self._call("POST", f"/api/dossiers/{code}/supplement", RECEPTION, files=files).raise_for_status()
                    plan.supplemented_at = now

    # ------------------------------------------------------------------ the run

    def run(self, max_days: int = 40) -> DemoResult:
        result = DemoResult()
        start = self.now()
        result.started = start.isoformat()
        day = start.astimezone(VN_TZ).date()
        per_day = max(1, -(-self.total // 5))  # intake spread over a working week
        for _ in range(max_days):
            if self.calendar.is_working_day(day):
                for hour in (8, 14):
                    moment = dt.datetime.combine(day, dt.time(hour), VN_TZ)
                    self.advance_to(moment)
                    if hour == 8:
                        for _ in range(min(per_day, self.total - len(self.plans))):
                            self._submit_one()
                    self.wait_idle()
                    now = self.now()
                    self._specialists(now)
                    self.wait_idle()
                    self._leader()
                    self.wait_idle()
                    self._sign_and_register()
                    self.wait_idle()
                    self._reception(now)
                    self.wait_idle()
            if len(self.plans) == self.total and self._all_final():
                break
            day += dt.timedelta(days=1)
        self.advance_to(dt.datetime.combine(day, dt.time(17), VN_TZ))
        result.ended = self.now().isoformat()
        return self._collect(result)

    def _all_final(self) -> bool:
        return all(
            self._call("GET", f"/api/dossiers/{code}", RECEPTION).json()["status"] in FINAL for code in self.plans
        )

    def _collect(self, result: DemoResult) -> DemoResult:
        result.received = len(self.plans)
        for code in self.plans:
            view = self._call("GET", f"/api/dossiers/{code}", RECEPTION).json()
            result.statuses[view["status"]] += 1
            if view["finished_at"] and view["status"] == "returned":
                when = timeliness(
                    dt.datetime.fromisoformat(view["finished_at"]), dt.datetime.fromisoformat(view["due_at"])
                )
                result.timeliness[when.value] += 1
            result.results += [code for d in view["documents"] if d["kind"] == "result"]
        return result


def forget_orphaned_processes(runtime: Runtime) -> list[str]:
    """Delete from a remote engine (Operaton) the processes of dossiers this demo state does not hold: those of an
    earlier demo whose state was discarded while the engine ran on (``make operaton`` keeps them in memory).

    Every fresh demo state begins on the same simulated morning and numbers dossiers from 0001, so it would hand
    out exactly the codes of the earlier run, and Operaton's start by business key (idempotent, for a start whose
    answer was lost) would give each new dossier the old dossier's process: an ended one leaves the new dossier
    in "received" for good, a running one moves it without its receipt, and an old dossier's task names a code
    the task lists cannot find. Only codes of this state's own agencies are touched, never in production."""
    engine = runtime.engine
    if not isinstance(engine, OperatonEngine) or runtime.settings.environment == "production":
        return []
    shop = runtime.shop
    orphans = []
    for key in sorted(engine.business_keys()):
        try:
            unit, day, _ = parse_dossier_code(key)
            shop.agency(unit, on=day)  # a code of one of this state's agencies
        except (MotcuaError, ValueError):
            continue
        try:
            shop.dossier_row(key)
        except NotFound:
            orphans.append(key)
    for key in orphans:
        engine.forget(key)
    return orphans


def report(result: DemoResult, objects_dir: str, check: str = "motcua verify <file.pdf>") -> str:
    resolved = result.statuses["returned"] + result.statuses["refused"]
    on_time = result.timeliness[Timeliness.ON_TIME.value] + result.timeliness[Timeliness.EARLY.value]
    share = f"{100 * on_time / result.statuses['returned']:.1f} %" if result.statuses["returned"] else "-"
    lines = [
        f"Mô phỏng / demo: {result.started[:10]} → {result.ended[:10]} (đồng hồ mô phỏng / simulated clock)",
        f"  Tiếp nhận / received:              {result.received}",
        f"  Đã giải quyết / resolved:          {resolved} (trả kết quả / returned {result.statuses['returned']},"
        f" từ chối / refused {result.statuses['refused']})",
        f"  Trước hạn / early:                 {result.timeliness[Timeliness.EARLY.value]}",
        f"  Đúng hạn / on time:                {result.timeliness[Timeliness.ON_TIME.value]}",
        f"  Quá hạn / late:                    {result.timeliness[Timeliness.LATE.value]}",
        f"  Tỷ lệ đúng hạn / on-time share:    {share}",
        f"  Đang giải quyết / in progress:     {result.received - resolved}",
        f"  Kết quả đã ký số / signed results: {len(result.results)} PDF in "
        f"{objects_dir}/<agency>/dossiers/<code>/result/",
        f"  Kiểm tra chữ ký / check a signature: {check}",
    ]
    return "\n".join(lines)
