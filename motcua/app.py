"""Composition root: settings → database, clock, engine, document store, audit log, services, workers.

Also the idempotent ``init``: migrate, seed agencies, procedures, calendar overrides and demo people.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import structlog

from dossiers.agencies import parse_demo_people, parse_structures
from dossiers.calendar import VN_TZ, CalendarOverrides, WorkingCalendar
from dossiers.clock import SimulatedClock, SystemClock
from dossiers.errors import InvalidInput
from dossiers.ports import Clock, DocumentStore, Engine
from dossiers.problems import bilingual
from integrations.envelopes.partners import PartnerRegistry
from motcua.housekeeping import operations_tick
from motcua.settings import Settings, ensure_secret_file
from persistence import calendar, reference_data
from persistence.audit_log import AuditAnchors, AuditCheckpoints, SqlAuditLog, latest_event_at
from persistence.migrate import upgrade
from persistence.rate_limits import LoginThrottle, PublicLookups, RateLimiter
from persistence.uow import Database, make_engine, transaction
from services.accounts import Accounts, hash_password
from services.catalogue import (
    FEE_TABLE,
    Problem,
    catalogue_dirs,
    fee_warnings,
    read_catalogue,
    read_fee_tables,
    unreadable,
)
from services.catalogue import validate as validate_catalogue
from services.certificates import SigningCertificates, signing_trust
from services.exchange import EnvelopeExchange, InProcessExchange
from services.intake import Intake
from services.issuing import DocumentIssuer
from services.notifications import Outbox
from services.paperwork import Paperwork
from services.procedure_design import CatalogueFiles, ProcedureDesigner
from services.receiving import EnvelopeReceiver
from services.reception import Reception
from services.result_drafts import ResultDrafts
from services.results import BUILT_IN_RENDERERS, ResultRegistry, built_ins
from services.search import DossierSearch
from services.shop import OneStopShop
from services.signatures import PersonalSignatures
from services.stopping import Stopping
from services.supplements import Supplements
from services.tasks import TaskDesk
from signing.api import KeyProvider
from signing.cms import sign_detached
from signing.keys.loader import load_key_provider
from signing.pades import PadesSigner
from signing.pki import DevelopmentPki
from storage.local import private_dir
from storage.url import open_store
from workers.dossier_handlers import handlers_for
from workers.runtime import TaskSource, Worker, start_in_threads
from workflows import BPMN_DIR

log = structlog.get_logger(__name__)
DEMO_PASSWORD = "motcua-demo"  # development only: `motcua init` refuses it in production
STATE_DIR_MODE = 0o750  # var/ and the objects: personal data, never world-accessible (whatever the umask)
DEMO_CLOCK_START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def load_data(name: str) -> Any:
    return json.loads(resources.files("motcua").joinpath("data", name).read_text(encoding="utf-8"))


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    engine: Engine
    store: DocumentStore
    audit: SqlAuditLog
    accounts: Accounts
    shop: OneStopShop
    worker: Worker
    pki: DevelopmentPki
    paperwork: Paperwork
    signatures: PersonalSignatures
    keys: KeyProvider
    checkpoints: AuditCheckpoints
    exchange: EnvelopeExchange | None
    intake: Intake
    tasks: TaskDesk
    supplements: Supplements
    certificates: SigningCertificates
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    @cached_property
    def limiter(self) -> RateLimiter:
        """Rate limits counted in the database: every API process of the installation shares them."""
        return RateLimiter(self.db)

    @cached_property
    def reception(self) -> Reception:
        """The reception queue of online dossiers: accept, ask for papers, refuse."""
        return Reception(
            self.shop,
            self.db,
            self.engine,
            self.clock,
            self.shop.record,
            self.intake,
            self.paperwork,
            Outbox(self.db, self.clock),
        )

    @cached_property
    def stopping(self) -> Stopping:
        """Stopping a dossier's processing (Mẫu 05 of 2025): withdrawn at the applicant's request or by the agency."""
        return Stopping(self.shop, self.db, self.engine, self.clock, self.paperwork, Outbox(self.db, self.clock))

    @cached_property
    def drafts(self) -> ResultDrafts:
        """The result drafts the leader reads before approving, and the register number the clerk will give."""
        return ResultDrafts(self.shop, self.results)

    @cached_property
    def results(self) -> ResultRegistry:
        """The result registry the pages use: drafts for the leader, template previews for the administrator."""
        exchange = self.exchange or InProcessExchange(self.db, self.clock, self.shop)
        return result_registry(
            self.settings, self.shop, self.paperwork, self.clock, self.store, exchange, "system:draft"
        )

    @cached_property
    def designer(self) -> ProcedureDesigner:
        """The procedure designer: drafts, check, publish into MOTCUA_CATALOGUE_DIR, export and import."""
        return ProcedureDesigner(
            self.db, self.clock, self.engine, self.shop, catalogue_files(self.settings), tuple(self.worker.handlers)
        )

    @cached_property
    def login_throttle(self) -> LoginThrottle:
        """Failed logins per user name and client address, for the web login and ``POST /api/auth/token``."""
        return LoginThrottle(self.limiter, self.accounts, self.shop.record)

    @cached_property
    def public_lookups(self) -> PublicLookups:
        """The public lookups by code and ID number (MOTCUA_PUBLIC_LOOKUPS_PER_MINUTE per client address)."""
        return PublicLookups(self.limiter, self.settings.public_lookups_per_minute)

    @cached_property
    def anchors(self) -> AuditAnchors:
        """The audit log's head anchors in the object store (MOTCUA_AUDIT_ANCHOR_SECONDS)."""
        return AuditAnchors(self.audit, self.store)

    @cached_property
    def search(self) -> DossierSearch:
        """Finding dossiers (officials' search and "handled" list, reception's search), within what each may read."""
        return DossierSearch(self.db, self.shop.record)

    def envelope_receiver(self) -> EnvelopeReceiver | None:
        """The exchange endpoint's side, when partners are configured."""
        return envelope_receiver(self)

    def load_calendar(self) -> WorkingCalendar:
        """The working calendar with the administrator's overrides, read afresh (after an override changes)."""
        return calendar.working_calendar(self.db)

    def catalogue_problems(self) -> list[Problem]:
        """Everything ``motcua procedures validate`` checks, for the administrator's catalogue page."""
        return check_catalogue(self.settings)

    def start_background(self, workers: int = 2, timer_seconds: float = 1.0) -> None:
        """In-process workers, the timer scheduler and housekeeping (``motcua serve``)."""
        extra = [self.new_worker(f"{self.worker.worker_id}-{i}") for i in range(workers)]
        self.threads += start_in_threads(extra, self.stop)
        self.start_housekeeping(timer_seconds, fire_timers=True)

    def start_housekeeping(self, every: float, *, fire_timers: bool) -> None:
        """A thread that fires due timers (when asked) and starts the processes of dossiers registered while a
        remote engine was unreachable. Several processes may run it: both jobs are safe to repeat."""
        thread = threading.Thread(
            target=self._housekeeping, args=(every, fire_timers), name="housekeeping", daemon=True
        )
        thread.start()
        self.threads.append(thread)

    def new_worker(self, worker_id: str) -> Worker:
        """Another worker like ``self.worker`` (same handlers, task source and unit of work), long-polling."""
        return Worker(
            self.engine,
            self.worker.handlers,
            worker_id,
            lock_seconds=self.settings.worker_lock_seconds,
            default_retries=self.settings.worker_retries,
            max_tasks=self.settings.worker_max_tasks,
            unit_of_work=self.worker.unit_of_work,
            tasks=self.worker.tasks,
            poll_seconds=self.settings.worker_poll_seconds,
            retry_seconds=self.settings.worker_retry_seconds,
        )

    def _housekeeping(self, every: float, fire_timers: bool) -> None:
        while not self.stop.is_set():
            try:
                if fire_timers:
                    self.engine.fire_due_timers(self.clock.now())
                self.intake.start_waiting_processes()
            except Exception:  # noqa: BLE001 - keep it alive; the next tick retries (e.g. engine still down)
                log.warning("housekeeping.error", exc_info=True)
            operations_tick(self)  # late notices (Mẫu 04) and notification delivery; guards its own errors
            self.checkpoint_tick()
            self.anchor_tick()
            self.stop.wait(every)

    def checkpoint_tick(self) -> None:
        """The scheduled audit checkpoint (DESIGN §10): signed and timestamped when the latest is older than
        MOTCUA_AUDIT_CHECKPOINT_MINUTES on the runtime's clock and the log grew since. Every process running
        housekeeping may do it; a head checkpointed twice keeps one row. After a failure (TSA or key unavailable)
        it waits a minute before trying again."""
        import time

        if time.monotonic() < self.__dict__.get("_checkpoint_retry_at", 0.0):
            return
        try:
            made = self.checkpoints.make_if_due(self.clock.now(), self.settings.audit_checkpoint_minutes)
        except Exception:  # noqa: BLE001 - keep housekeeping alive
            log.warning("housekeeping.checkpoint_error", exc_info=True)
            self.__dict__["_checkpoint_retry_at"] = time.monotonic() + 60
            return
        if made is not None:
            log.info("audit.checkpoint", seq=made.seq, timestamped=made.timestamped)

    def anchor_tick(self) -> None:
        """The audit head anchor (write-once, in the object store) at most every MOTCUA_AUDIT_ANCHOR_SECONDS, when
        the head moved: deleting the newest entries then shows in ``motcua audit verify`` unless they are younger
        than that. A store that is down is tried again at the next interval."""
        import time

        every = self.settings.audit_anchor_seconds
        if every <= 0 or time.monotonic() < self.__dict__.get("_anchor_at", 0.0):
            return
        self.__dict__["_anchor_at"] = time.monotonic() + every
        try:
            self.anchors.write()
        except Exception:  # noqa: BLE001 - keep housekeeping alive
            log.warning("housekeeping.anchor_error", exc_info=True)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        close = getattr(self.engine, "close", None)
        if callable(close):
            close()  # the Operaton adapter's HTTP client
        self.audit.close()  # the reads' entries still queued
        self.db.dispose()


def decree30_styles(shop: OneStopShop, images: Any) -> Any:
    """The agency seal's appearance (Decree 30): the red seal image with the agency's name and the time."""
    from dossiers.ports import SignatureRequest
    from signing.appearance import development_seal_png, seal_style
    from signing.fields import SEAL_FIELD

    def style_for(request: SignatureRequest) -> Any:
        if request.field_name != SEAL_FIELD or not request.signer.startswith("agency:"):
            return None
        agency = shop.agency(request.signer.removeprefix("agency:"))
        return seal_style(development_seal_png(agency.name, cache_dir=images), agency.name)

    return style_for


def make_clock(settings: Settings, db: Database | None = None) -> Clock:
    """The wall clock, or (demo deployments) a simulated clock that resumes where the state's last recorded
    event left it, so a restarted demo server does not travel back in time."""
    if not settings.demo_clock:
        return SystemClock()
    start = DEMO_CLOCK_START
    if db is not None:
        try:
            latest = latest_event_at(db)
        except Exception:  # noqa: BLE001 - no schema yet (before `motcua init`)
            latest = None
        if latest is not None and latest > start:
            start = latest
    # never before the development certificates are valid: a state whose keys `motcua init` issued on the real
    # clock (after `make run`) would otherwise refuse every signature as "certificate not valid yet"
    with contextlib.suppress(InvalidInput, OSError):
        issued = DevelopmentPki(settings.pki_dir, settings.key_passphrase).newest_validity_start()
        if issued is not None and issued > start:
            start = issued
    return SimulatedClock(start)


def build_runtime(settings: Settings, clock: Clock | None = None, store: DocumentStore | None = None) -> Runtime:
    private_dir(settings.var_dir, STATE_DIR_MODE, parents=True)
    settings.require_secret_key()  # production: refused when missing; development: created in var/ when missing
    db = make_engine(settings.resolved_database_url)
    clock = clock or make_clock(settings, db)
    engine: Engine
    tasks: TaskSource | None = None
    if settings.engine == "operaton":
        from workflows.operaton.engine import OperatonEngine
        from workflows.operaton.external_tasks import ClientTasks

        engine = OperatonEngine(
            settings.operaton_url or "", settings.operaton_user, settings.operaton_password, clock, bpmn_dirs(settings)
        )
        tasks = ClientTasks(settings.operaton_url or "", settings.operaton_user, settings.operaton_password)
    else:
        from workflows.embedded.engine import EmbeddedEngine

        engine = EmbeddedEngine(db, clock, bpmn_dirs(settings))
    store = store or open_store(settings)
    audit = SqlAuditLog(db, read_flush_seconds=settings.audit_read_flush_seconds)
    accounts = Accounts(db)
    shop = OneStopShop(
        db,
        engine,
        store,
        audit,
        clock,
        calendar.working_calendar(db),
        reference_data.agency_structures(db),
        bpmn_dirs(settings),
        max_file_bytes=settings.max_upload_bytes,
        accounts=accounts,
        fees=read_fee_tables(fee_tables(settings))[0],
    )
    pki = DevelopmentPki(settings.pki_dir, settings.key_passphrase, public_url=settings.pki_public_url)
    keys = load_key_provider(
        pki=pki,
        module=settings.pkcs11_module,
        token=settings.pkcs11_token,
        pin=settings.pkcs11_pin,
        keys=settings.pkcs11_keys,
    )
    images = settings.pki_dir / "images"
    signer = PadesSigner(
        pki,
        keys=keys,
        styles=decree30_styles(shop, images),
        timestamper_url=settings.tsa_url,
        trust_roots=signing_trust(settings, pki)[0],  # the configured roots (the TSA's too)
    )
    signatures = PersonalSignatures(db, clock, store, engine, shop, pki, evidence=signer.evidence)
    paperwork = Paperwork(
        db,
        clock,
        audit,
        shop,
        DocumentIssuer(db, store, shop, signer, render_seconds=settings.render_time_limit_seconds),
        signatures,
        images,
        public_base_url=settings.resolved_public_base_url,
        templates_dir=settings.templates_dir,
    )
    exchange = exchange_for(db, clock, store, shop, keys, settings)
    record = shop.record
    certificates = SigningCertificates(
        accounts,
        pki,
        clock,
        record,
        lambda: signing_trust(settings, pki),
        lambda code: shop.agency(code).name,
        auto_issue=settings.environment != "production" and settings.development_certificates,
    )
    intake = Intake(shop, db, engine, store, clock, record, max_file_bytes=settings.max_upload_bytes)
    supplements = Supplements(shop, db, engine, store, clock, record, max_file_bytes=settings.max_upload_bytes)
    task_desk = TaskDesk(
        shop,
        db,
        engine,
        clock,
        record,
        bpmn_dirs(settings),
        remote_agencies=exchange.partners.remote_agencies if exchange is not None else frozenset(),
        certificates=certificates,
    )
    handing_off = exchange or InProcessExchange(db, clock, shop)
    results = result_registry(settings, shop, paperwork, clock, store, handing_off)
    worker = Worker(
        engine,
        handlers_for(shop, supplements, paperwork, handing_off, clock, results),
        "inproc",
        lock_seconds=settings.worker_lock_seconds,
        default_retries=settings.worker_retries,
        unit_of_work=lambda: transaction(db),
        tasks=tasks,
        retry_seconds=settings.worker_retry_seconds,
    )
    checkpoints = AuditCheckpoints(db, audit, settings.audit_agency, _checkpoint_signer(keys, settings))
    return Runtime(
        settings,
        db,
        clock,
        engine,
        store,
        audit,
        accounts,
        shop,
        worker,
        pki,
        paperwork,
        signatures,
        keys,
        checkpoints,
        exchange,
        intake,
        task_desk,
        supplements,
        certificates,
    )


def exchange_for(
    db: Database, clock: Clock, store: DocumentStore, shop: OneStopShop, keys: KeyProvider, settings: Settings
) -> EnvelopeExchange | None:
    """Signed envelopes when partner installations are configured (``MOTCUA_EXCHANGE_PARTNERS_FILE``); without
    them every agency is hosted here and hand-offs are delivered in-process."""
    if not settings.exchange_partners_file:
        return None
    partners = PartnerRegistry.load(Path(settings.exchange_partners_file))
    return EnvelopeExchange(
        db,
        clock,
        store,
        shop,
        keys.signer_for,
        partners,
        timestamper_url=settings.tsa_url,
        retry_seconds=settings.exchange_retry_seconds,
        retry_max_seconds=settings.exchange_retry_max_seconds,
        timeout_seconds=settings.exchange_timeout_seconds,
    )


def envelope_receiver(runtime: Runtime) -> EnvelopeReceiver | None:
    """The exchange endpoint's side, when partners are configured."""
    if runtime.exchange is None:
        return None
    from services.joint_work import partner_documents

    return EnvelopeReceiver(
        runtime.db,
        runtime.clock,
        runtime.store,
        runtime.engine,
        runtime.shop,
        runtime.keys.signer_for,
        runtime.exchange.partners,
        operator_agency=runtime.settings.audit_agency,
        max_document_bytes=runtime.settings.max_upload_bytes,
        max_envelope_bytes=runtime.settings.exchange_max_envelope_bytes,
        partner_documents=partner_documents,
        timestamper_url=runtime.settings.tsa_url,
    )


def _checkpoint_signer(keys: KeyProvider, settings: Settings) -> Any:
    """Signs a checkpoint statement with the audit agency's seal, timestamped when a TSA is configured."""

    def sign(statement: bytes) -> tuple[bytes, bool]:
        signer = keys.signer_for(f"agency:{settings.audit_agency}")
        return sign_detached(statement, signer, timestamper_url=settings.tsa_url), bool(settings.tsa_url)

    return sign


def init_state(settings: Settings, demo: bool = True) -> dict[str, Any]:
    """Idempotent set-up: migrate, seed reference data, deploy BPMN, create demo people once; the installation's
    random secret (``var/secret_key``, mode 0600) unless MOTCUA_SECRET_KEY gives one."""
    private_dir(settings.var_dir, STATE_DIR_MODE, parents=True)
    if settings.secret_key is None:
        settings.secret_key = ensure_secret_file(settings.secret_key_file)
    private_dir(settings.objects_dir, STATE_DIR_MODE, parents=True)
    db = make_engine(settings.resolved_database_url)
    try:
        upgrade(db)
        report = _seed_reference_data(db, settings)
    finally:
        db.dispose()
    runtime = build_runtime(settings)
    try:
        report["deployed"] = runtime.engine.deploy()
        report["demo_users"] = _seed_demo_people(runtime, settings) if demo else []
        report["keys"] = ensure_keys(runtime)
    finally:
        runtime.close()
    return report


def bpmn_dirs(settings: Settings) -> list[Path]:
    """The built-in BPMN files, and an agency's own next to its catalogue entries (MOTCUA_CATALOGUE_DIR)."""
    return [BPMN_DIR, *([Path(settings.catalogue_dir)] if settings.catalogue_dir else [])]


def result_registry(
    settings: Settings,
    shop: OneStopShop,
    paperwork: Paperwork,
    clock: Clock,
    store: DocumentStore,
    exchange: Any,
    actor: str = "system:worker",
) -> ResultRegistry:
    """The one result registry: templates from the agency's MOTCUA_CATALOGUE_DIR/results, then the shipped
    motcua/data/results; the built-in renderers (civil status papers, permit, land certificate)."""
    renderers = built_ins(shop, paperwork, clock, store, exchange, actor=actor)
    return ResultRegistry(shop, paperwork, clock, result_template_dirs(settings), renderers, actor)


def catalogue_files(settings: Settings) -> CatalogueFiles:
    """Where the catalogue is, for the designer and ``procedures export/import``: the agency's directory, the BPMN
    and template directories, and ``procedures validate`` for a (staged) catalogue directory."""
    return CatalogueFiles(
        Path(settings.catalogue_dir) if settings.catalogue_dir else None,
        bpmn_dirs(settings),
        result_template_dirs(settings),
        lambda directory: check_catalogue(settings.model_copy(update={"catalogue_dir": directory})),
    )


def result_template_dirs(settings: Settings) -> list[Path]:
    own = [Path(settings.catalogue_dir) / "results"] if settings.catalogue_dir else []
    return [*own, Path(str(resources.files("motcua").joinpath("data", "results")))]


def result_template_problems(settings: Settings) -> list[Problem]:
    """Each catalogue entry's ``result``: its template found and valid against the procedure's form (every problem
    with its line and field), or its built-in renderer known."""
    from documents.result_templates import ResultTemplateError, load_template

    entries, _ = read_catalogue(catalogue_dirs(settings.catalogue_dir))
    dirs = result_template_dirs(settings)
    problems: list[Problem] = []
    for path, _, entry in entries:
        spec = entry.result
        if spec is None:
            continue
        if spec.renderer is not None:
            if spec.renderer not in BUILT_IN_RENDERERS:
                known = ", ".join(sorted(BUILT_IN_RENDERERS))
                problems.append(
                    Problem(
                        str(path),
                        bilingual(
                            f"result.renderer: không có bộ tạo văn bản kết quả '{spec.renderer}' (có sẵn: {known})",
                            f"result.renderer '{spec.renderer}' is not built in (known: {known})",
                        ),
                    )
                )
            continue
        found = next((d / str(spec.template) for d in dirs if (d / str(spec.template)).is_file()), None)
        if found is None:
            where = ", ".join(str(d) for d in dirs)
            problems.append(
                Problem(
                    str(path),
                    bilingual(
                        f"result.template: không tìm thấy tệp mẫu kết quả {spec.template} trong {where}",
                        f"result.template {spec.template} is in none of {where}",
                    ),
                )
            )
            continue
        try:
            load_template(found, [f.key for f in entry.form_fields] or None)
        except ResultTemplateError as exc:
            problems += [
                Problem(
                    str(found),
                    bilingual(f"thủ tục {entry.code}: {p.vietnamese()}", f"procedure {entry.code}: {p.english()}"),
                )
                for p in exc.problems
            ]
    return problems


def check_catalogue(settings: Settings) -> list[Problem]:
    """Everything ``motcua procedures validate`` checks; ``init`` and ``serve`` refuse to go on if not empty."""
    return validate_catalogue(
        catalogue_dirs(settings.catalogue_dir),
        bpmn_dirs(settings),
        parse_structures(load_data("agencies.json")),
        calendar_overrides=load_data("calendar_overrides.json"),
        templates_dir=settings.templates_dir,
        fee_tables=fee_tables(settings),
    ) + result_template_problems(settings)


def fee_tables(settings: Settings) -> list[tuple[str, Any]]:
    """The per-agency fees a province sets (dossiers.fees): the built-in fees.json, then the agency's own next to
    its catalogue entries (MOTCUA_CATALOGUE_DIR/fees.json)."""
    tables: list[tuple[str, Any]] = [("motcua/data/fees.json", load_data("fees.json"))]
    own = Path(settings.catalogue_dir) / FEE_TABLE if settings.catalogue_dir else None
    if own is not None and own.is_file():
        try:
            tables.append((str(own), json.loads(own.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            tables.append((str(own), unreadable(exc)))  # reported by procedures validate
    return tables


def catalogue_warnings(settings: Settings, today: dt.date | None = None) -> list[Problem]:
    """What ``procedures validate`` warns about without refusing: fees the province sets that an agency offering
    the procedure has not configured."""
    entries, _ = read_catalogue(catalogue_dirs(settings.catalogue_dir))
    fees, _ = read_fee_tables(fee_tables(settings))
    structures = parse_structures(load_data("agencies.json"))
    return fee_warnings([e for _, _, e in entries], structures, fees, today or dt.date.today())


def refuse_invalid_catalogue(settings: Settings) -> None:
    problems = check_catalogue(settings)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise InvalidInput(
            f"Danh mục thủ tục không hợp lệ ({len(problems)} lỗi):\n{listing}",
            f"The procedure catalogue is invalid ({len(problems)} problems):\n{listing}",
        )
    for warning in catalogue_warnings(settings):
        log.warning("catalogue.fee_not_configured", problem=str(warning))


def _seed_reference_data(db: Database, settings: Settings) -> dict[str, Any]:
    refuse_invalid_catalogue(settings)
    agencies_data = load_data("agencies.json")
    structures = parse_structures(agencies_data)  # validate before writing anything
    entries, _ = read_catalogue(catalogue_dirs(settings.catalogue_dir))
    added: dict[str, Any] = {"structures": [], "procedures": [], "calendar_days": 0}
    today = make_clock(settings, db).now().astimezone(VN_TZ).date()
    with transaction(db) as conn:
        added["structures"] = reference_data.add_structures(conn, structures)
        added["procedures"] = reference_data.save_procedures(conn, entries)
        # a procedure whose file left the catalogue: not offered from today, its dossiers still handled
        added["withdrawn"] = reference_data.withdraw_procedures(conn, entries, today)
        overrides = CalendarOverrides.from_data(load_data("calendar_overrides.json"))
        added["calendar_days"] = calendar.add_missing_overrides(conn, overrides)
    return added


def ensure_keys(runtime: Runtime) -> int:
    """Development PKI: a seal for every agency in force and a personal key for every official who signs."""
    structure = runtime.shop.structure_now()
    agencies = {a.code: a.name for a in structure.agencies}
    officials = [
        (p.username, p.full_name, p.agency_code)
        for p in runtime.accounts.list()
        if p.role.value in ("leader", "clerk") and p.agency_code in agencies
    ]
    before = len(runtime.pki.key_ids()) if runtime.pki.root_cert_path.exists() else 0
    # valid on the runtime's clock and on the real one: on a simulated clock (`motcua demo`) the signatures are made
    # at simulated times, but `motcua verify` checks the signed results at the real time
    runtime.pki.ensure(agencies.items(), officials, runtime.clock.now(), also_valid_at=SystemClock().now())
    return len(runtime.pki.key_ids()) - before


@cache
def demo_password_hash() -> str:
    """The argon2id hash of DEMO_PASSWORD, computed once per process: hashing is slow on purpose and every demo
    person has that same published password, so one hash (one salt) for all of them gives nothing away."""
    return hash_password(DEMO_PASSWORD)


def _seed_demo_people(runtime: Runtime, settings: Settings) -> list[str]:
    if settings.environment == "production":
        return []
    created = []
    for person in parse_demo_people(load_data("agencies.json")):
        if runtime.accounts.get(person.username) is not None:
            continue
        runtime.accounts.add(
            person.username,
            DEMO_PASSWORD,
            person.full_name,
            person.role,
            person.agency_code,
            person.department_code,
            runtime.clock.now(),
            password_hash=demo_password_hash(),
        )
        created.append(person.username)
    return created
