"""Sample dossiers for a first run: the task lists of the demo people are not empty when someone opens the pages.

``motcua init`` makes them once, outside production, when the installation holds no dossier yet (so running it
again adds nothing), through the same use cases the pages call: a citizen's online filing, reception's check,
the specialist's review, the leader's approval and signature on their own device, the clerk's register number,
handing the result over.

A dossier is late only after its time limit (three working days for the household business registration), and
the use cases take every time from the runtime's clock: nobody can register a dossier "last week". So the samples
are made on a :class:`HistoryClock` that replays the last working week — the first dossier registered five working
days ago and left in review, hence late today — and then runs on the wall clock: everything signed is signed
now, within the validity of the development certificates ``motcua init`` has just issued. The audit log records
those past times, in order, before anything the server records later; the ``samples.created`` entry says which
dossiers are samples.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from documents.samples import sample_pdf
from dossiers.calendar import VN_TZ, WorkingCalendar
from dossiers.clock import SystemClock
from dossiers.errors import InvalidInput
from dossiers.model import Person
from motcua.settings import Settings
from persistence import calendar
from persistence.audit_log import latest_event_at
from persistence.dossier_records import any_dossier
from persistence.uow import make_engine, transaction
from services.intake import Applicant
from services.uploads import Upload

SAMPLES_FILE = "samples.json"  # under MOTCUA_VAR_DIR: what `motcua serve` says about the samples at start
PROCEDURE = "1.001612"  # household business registration: reception, review, approval, signature, register, seal
AGENCY = "000.00.31.H99"
RECEPTION, SPECIALIST, LEADER, CLERK, CITIZEN = (
    "tiepnhan.xa1",
    "chuyenvien1.xa1",
    "lanhdao.xa1",
    "vanthu.xa1",
    "congdan1",
)
HISTORY_WORKING_DAYS = 5  # the late sample was registered this many working days ago (time limit: 3)

STATES = {  # state → (Vietnamese label, whose list shows it)
    "waiting_for_reception": ("Nộp trực tuyến, chờ tiếp nhận", RECEPTION),
    "in_review": ("Đang thẩm định", SPECIALIST),
    "late": ("Quá hạn, đang thẩm định", SPECIALIST),
    "waiting_for_approval": ("Chờ lãnh đạo phê duyệt", LEADER),
    "waiting_for_signature": ("Chờ lãnh đạo ký số", LEADER),
    "waiting_for_number": ("Đã ký, chờ văn thư vào sổ", CLERK),
    "ready_for_return": ("Có kết quả, chờ trả cho công dân", RECEPTION),
    "returned": ("Đã trả kết quả có chữ ký số", CITIZEN),
}


class HistoryClock:
    """The recent past replayed, then the wall clock: :meth:`set` moves it forward through the past (never
    backwards, never past the present); after :meth:`go_live` it is the wall clock."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = min(start, SystemClock().now())
        self._live = False
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return SystemClock().now() if self._live else self._now

    def set(self, moment: dt.datetime) -> dt.datetime:
        with self._lock:
            if not self._live:
                self._now = max(self._now, min(moment, SystemClock().now()))
            return self._now

    def go_live(self) -> None:
        with self._lock:
            self._live = True


@dataclass(frozen=True)
class SampleDossier:
    code: str
    state: str  # a key of STATES
    label: str
    on_list_of: str
    status: str
    due_at: str


def working_days_before(cal: WorkingCalendar, today: dt.date, count: int) -> list[dt.date]:
    """The ``count`` working days before ``today``, nearest first."""
    days: list[dt.date] = []
    day = today
    while len(days) < count:
        day -= dt.timedelta(days=1)
        if cal.is_working_day(day):
            days.append(day)
    return days


def samples_file(settings: Settings) -> Path:
    return settings.var_dir / SAMPLES_FILE


def read_samples(settings: Settings) -> list[dict[str, Any]]:
    """What ``motcua init`` wrote about the samples (empty when it made none)."""
    try:
        data = json.loads(samples_file(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return list(data.get("dossiers", [])) if isinstance(data, dict) else []


def needs_samples(settings: Settings) -> bool:
    """Outside production, when the installation holds no dossier yet."""
    if settings.environment == "production":
        return False
    db = make_engine(settings.resolved_database_url)
    try:
        with transaction(db) as conn:
            return not any_dossier(conn)
    finally:
        db.dispose()


def create_samples(settings: Settings) -> list[SampleDossier]:
    """Make the sample dossiers (see the module docstring) when :func:`needs_samples`; returns them."""
    from motcua.app import build_runtime

    if not needs_samples(settings):
        return []
    db = make_engine(settings.resolved_database_url)
    try:
        cal = calendar.working_calendar(db)
        latest = latest_event_at(db)
    finally:
        db.dispose()
    today = SystemClock().now().astimezone(VN_TZ).date()
    days = working_days_before(cal, today, HISTORY_WORKING_DAYS)
    start = dt.datetime.combine(days[-1], dt.time(8, 30), VN_TZ)
    if latest is not None and latest > start:
        start = latest  # the log never goes back in time: the history begins after its newest entry
    clock = HistoryClock(start)
    runtime = build_runtime(settings, clock=clock)
    try:
        return _Samples(runtime, clock, days).run()
    finally:
        runtime.close()


class _Samples:
    def __init__(self, runtime: Any, clock: HistoryClock, days: list[dt.date]) -> None:
        self.runtime = runtime
        self.clock = clock
        self.days = days  # days[0] is the last working day before today
        self.states: dict[str, str] = {}

    # ------------------------------------------------------------------ helpers

    def person(self, username: str) -> Person:
        found = self.runtime.accounts.get(username)
        if found is None:
            raise InvalidInput(
                f"Chưa có người dùng mẫu {username}: chạy `motcua init` với người dùng mẫu.",
                f"The demo person {username} does not exist: run `motcua init` with the demo people.",
            )
        return found

    def at(self, days_ago: int, hour: int, minute: int = 0) -> None:
        """Move the history clock to that working morning or afternoon; due timers fire, workers run."""
        moment = self.clock.set(dt.datetime.combine(self.days[days_ago - 1], dt.time(hour, minute), VN_TZ))
        self.settle(moment)

    def settle(self, moment: dt.datetime | None = None) -> None:
        self.runtime.engine.fire_due_timers(moment or self.clock.now())
        self.runtime.worker.drain()

    def file(self, username: str, state: str, applicant: str, id_number: str, business: str, line: str) -> str:
        actor = self.person(username)
        online = actor.role.value == "citizen"
        details = {
            "business_name": business,
            "business_address": "Thôn Đông, xã Hòa An, tỉnh Demo",
            "business_lines": [line],
            "capital_vnd": 100_000_000,
            "owner_birth_date": "1987-05-14",
            "owner_address": "Xã Hòa An, tỉnh Demo",
        }
        uploads = [
            Upload(
                "giay_de_nghi",
                "giay-de-nghi.pdf",
                "application/pdf",
                io.BytesIO(sample_pdf("Giay de nghi dang ky ho kinh doanh", "Hồ sơ mẫu của lần chạy đầu tiên.")),
            ),
            Upload(
                "giay_to_phap_ly",
                "cccd.pdf",
                "application/pdf",
                io.BytesIO(sample_pdf("Can cuoc cong dan", "Hồ sơ mẫu của lần chạy đầu tiên.")),
            ),
        ]
        view = self.runtime.intake.intake(
            actor,
            PROCEDURE,
            Applicant(applicant, id_number, "0912345678"),
            uploads,
            agency_code=AGENCY,
            channel="online" if online else "counter",
            details=details,
        )
        code = str(view["code"])
        self.states[code] = state
        self.settle()
        return code

    def decide(self, username: str, code: str, activity: str, decision: str | None, comment: str | None = None) -> None:
        person = self.person(username)
        tasks = [
            t
            for t in self.runtime.tasks.tasks_for(person)
            if t["dossier_code"] == code and t["activity_id"] == activity
        ]
        if len(tasks) != 1:
            raise InvalidInput(
                f"Hồ sơ mẫu {code}: không có bước {activity} cho {username}.",
                f"Sample dossier {code}: no {activity} step for {username}.",
            )
        self.runtime.tasks.complete(person, tasks[0]["id"], decision, comment)
        self.settle()

    def sign_on_device(self, code: str) -> None:
        """What the leader's PC does with their key file (their USB token in production)."""
        from signing.device import DeviceClient

        leader = self.person(LEADER)
        key_file = self.runtime.pki.pkcs12_path(f"person:{LEADER}")
        device = DeviceClient(key_file.read_bytes(), self.runtime.settings.key_passphrase)
        for pending in self.runtime.signatures.pending_for(leader):
            if pending.dossier_code == code:
                value = device.sign(pending.data_to_sign, pending.digest_algorithm)
                self.runtime.signatures.complete(leader, pending.id, value)
        self.settle()

    # ------------------------------------------------------------------ the week

    def run(self) -> list[SampleDossier]:
        self.at(5, 8, 30)
        self.file(RECEPTION, "late", "Trần Văn Bình", "001085004321", "Sửa xe máy Bình Minh", "Sửa chữa xe máy")
        self.at(3, 16)
        returned = self.file(
            CITIZEN, "returned", "Bùi Thị Thu Hà", "001190001234", "Tạp hóa Thu Hà", "Bán lẻ lương thực, thực phẩm"
        )
        self.at(2, 8, 15)
        self.runtime.reception.decide(self.person(RECEPTION), returned, "accept")
        self.settle()
        self.at(2, 8, 45)
        handover = self.file(
            RECEPTION, "ready_for_return", "Ngô Văn Toàn", "001083006677", "Điện máy Văn Toàn", "Bán lẻ đồ điện"
        )
        self.at(2, 9)
        approval = self.file(
            RECEPTION, "waiting_for_approval", "Lê Thị Mai", "001186007788", "Quán cà phê Hoa Mai", "Dịch vụ đồ uống"
        )
        self.at(2, 10)
        self.decide(SPECIALIST, returned, "review", "approve", "Hồ sơ hợp lệ")
        self.at(2, 10, 30)
        self.decide(SPECIALIST, handover, "review", "approve", "Hồ sơ hợp lệ")
        self.at(2, 14)
        numbering = self.file(
            RECEPTION, "waiting_for_number", "Vũ Thị Hằng", "001191002233", "Tiệm may Thu Hằng", "May trang phục"
        )
        self.at(1, 8, 30)
        signature = self.file(
            RECEPTION, "waiting_for_signature", "Phạm Quốc Huy", "001088005566", "Quán phở Quốc Huy", "Dịch vụ ăn uống"
        )
        self.at(1, 9)
        self.decide(SPECIALIST, numbering, "review", "approve", "Hồ sơ hợp lệ")
        self.at(1, 9, 30)
        self.decide(SPECIALIST, approval, "review", "approve", "Hồ sơ hợp lệ")
        self.at(1, 10)
        self.decide(SPECIALIST, signature, "review", "approve", "Hồ sơ hợp lệ")
        self.at(1, 14)
        self.file(RECEPTION, "in_review", "Đỗ Thị Ngọc Anh", "001192003344", "Quán cơm Ngọc Anh", "Dịch vụ ăn uống")
        self.at(1, 15, 30)
        self.file(
            CITIZEN, "waiting_for_reception", "Bùi Thị Thu Hà", "001190001234", "Tiệm bánh Thu Hà", "Sản xuất bánh"
        )
        self.at(1, 16, 15)
        self.file(
            CITIZEN, "waiting_for_reception", "Bùi Thị Thu Hà", "001190001234", "Cửa hàng hoa Hà", "Bán lẻ hoa tươi"
        )
        # today, on the wall clock: what is signed is signed now, within the certificates' validity
        self.clock.go_live()
        self.settle()
        for code in (returned, handover, numbering, signature):
            self.decide(LEADER, code, "approve", "approve")
        for code in (returned, handover, numbering):
            self.sign_on_device(code)
        for code in (returned, handover):
            self.decide(CLERK, code, "register_number", None)
        self.decide(RECEPTION, returned, "return_result", None)
        made = [self._described(code, state) for code, state in self.states.items()]
        self.runtime.shop.record("samples.created", "system:samples", codes=[m.code for m in made])
        _write(samples_file(self.runtime.settings), made)
        return made

    def _described(self, code: str, state: str) -> SampleDossier:
        view = self.runtime.shop.dossier_view(code)
        label, on_list_of = STATES[state]
        due = "" if view["status"] == "submitted" else str(view["due_at"] or "")  # no time limit before reception
        return SampleDossier(code, state, label, on_list_of, str(view["status"]), due)


def _write(path: Path, made: list[SampleDossier]) -> None:
    data = {"dossiers": [asdict(m) for m in made]}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
