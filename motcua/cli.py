"""The ``motcua`` command: init, serve, worker, users."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer

from dossiers.errors import MotcuaError
from dossiers.model import Role
from motcua.settings import Settings

app = typer.Typer(
    help="Motcua — một cửa điện tử (electronic one-stop shop).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="Local accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")
procedures_app = typer.Typer(help="The procedure catalogue: list, show, validate.", no_args_is_help=True)
app.add_typer(procedures_app, name="procedures")
incidents_app = typer.Typer(help="Steps the workers gave up on, and retrying them.", no_args_is_help=True)
app.add_typer(incidents_app, name="incidents")
audit_app = typer.Typer(
    help="The hash-chained audit log: verify it, sign a checkpoint of its head.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")


def _configure_logging(json_logs: bool, level: int = logging.INFO) -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    processors.append(structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer())
    structlog.configure(processors=processors, wrapper_class=structlog.make_filtering_bound_logger(level))


def _fail(exc: MotcuaError) -> typer.Exit:
    typer.echo(f"lỗi / error: {exc.message_vi} — {exc.message_en}", err=True)
    return typer.Exit(code=2)


def _refused(reasons: list[str]) -> typer.Exit:
    for reason in reasons:
        typer.echo(f"lỗi / error: cấu hình bị từ chối / settings refused: {reason}", err=True)
    return typer.Exit(code=2)


@app.callback()
def _settings_first(ctx: typer.Context) -> None:
    # Every command starts from the settings: unsafe or invalid ones (a published or short secret in production,
    # MOTCUA_PORT=abc) stop it here with the reason, never a traceback. In production a missing secret is refused
    # too, except by `init`, which writes the installation's random one.
    from pydantic import ValidationError

    from motcua.settings import SettingsRefused

    if ctx.invoked_subcommand == "settings-doc":
        return
    try:
        settings = Settings()
        if settings.environment == "production" and ctx.invoked_subcommand != "init":
            settings.require_secret_key()
    except ValidationError as exc:
        reasons = []
        for error in exc.errors():
            message = str(error.get("msg", "")).removeprefix("Value error, ")
            field = ".".join(str(part) for part in error.get("loc", ()))
            reasons.append(f"MOTCUA_{field.upper()}: {message}" if field else message)
        raise _refused(reasons) from None
    except SettingsRefused as exc:
        raise _refused([str(exc)]) from None


def _mode_line(settings: Settings) -> str:
    """What the startup log says about the mode and where the secret comes from."""
    secret = "MOTCUA_SECRET_KEY" if os.environ.get("MOTCUA_SECRET_KEY") else str(settings.secret_key_file)
    if settings.environment == "production":
        return f"chế độ production / production mode (secret: {secret})"
    return f"chế độ phát triển / development mode (secret: {secret}; MOTCUA_ENV=production for production)"


@app.command()
def init(
    demo: Annotated[bool, typer.Option(help="Create the demo people (development only).")] = True,
    samples: Annotated[
        bool | None,
        typer.Option(
            "--samples/--no-samples",
            help="Sample dossiers in several states for the demo people, made once when the installation holds no "
            "dossier yet (default: in development on the real clock, with the demo people; never in production).",
        ),
    ] = None,
) -> None:
    """Idempotent set-up: database migrations, reference data, BPMN deployment, demo people, sample dossiers."""
    from motcua.app import DEMO_PASSWORD, init_state

    _configure_logging(False)
    settings = Settings()
    report = init_state(settings, demo=demo)
    typer.echo(_mode_line(settings))
    typer.echo(f"database: {settings.resolved_database_url}")
    if settings.storage_url and settings.storage_url.startswith("s3://"):
        typer.echo(f"objects:  {settings.storage_url.split('@')[-1]} (S3)")
    else:
        typer.echo(f"objects:  {settings.objects_dir.resolve()}")
    for key in ("structures", "procedures", "withdrawn", "deployed"):  # withdrawn: left the catalogue
        typer.echo(f"{key}: {', '.join(report[key]) or 'unchanged'}")
    if report["demo_users"]:
        typer.echo(f"demo users (password '{DEMO_PASSWORD}'): {', '.join(report['demo_users'])}")
    if samples is None:  # the demo's simulated clock and the tests' servers bring their own dossiers
        samples = demo and settings.environment != "production" and not settings.demo_clock
    if samples:
        _make_samples(settings)


def _make_samples(settings: Settings) -> None:
    """The first run's sample dossiers (motcua.samples); a failure is reported and leaves the set-up usable."""
    from motcua.samples import create_samples, samples_file

    _configure_logging(False, level=logging.WARNING)
    if settings.environment == "production":
        typer.echo("hồ sơ mẫu / sample dossiers: không tạo trong production / never in production", err=True)
        return
    try:
        made = create_samples(settings)
    except Exception as exc:  # noqa: BLE001 - the installation works without them; say why there are none
        message = f"{exc.message_vi} — {exc.message_en}" if isinstance(exc, MotcuaError) else repr(exc)
        typer.echo(f"cảnh báo / warning: không tạo được hồ sơ mẫu / no sample dossiers: {message}", err=True)
        return
    if not made:
        typer.echo("sample dossiers: unchanged (the installation already holds dossiers)")
        return
    typer.echo(f"hồ sơ mẫu / sample dossiers ({samples_file(settings)}):")
    for sample in made:
        typer.echo(f"  {sample.code}  {sample.label:32} → {sample.on_list_of}")


GRACEFUL_SHUTDOWN_SECONDS = 5  # in-flight requests get this long after SIGTERM (Docker's stop grace is 10 s)


@app.command()
def serve(
    workers: Annotated[int, typer.Option(help="In-process worker threads.")] = 2,
    json_logs: Annotated[bool, typer.Option("--json-logs/--console-logs")] = False,
) -> None:
    """Serve the API with in-process workers and the timer scheduler."""
    import uvicorn

    from api.app import asgi
    from motcua.app import build_runtime

    _configure_logging(json_logs)
    settings = Settings()
    from motcua.app import refuse_invalid_catalogue

    try:
        refuse_invalid_catalogue(settings)  # never serve on a catalogue a bad edit broke
    except MotcuaError as exc:
        raise _fail(exc) from None
    runtime = build_runtime(settings)
    runtime.engine.deploy()
    from signing.appearance import warm_up

    warm_up()  # parse and reduce the stamp font once, not on the first signature
    if settings.workers_in_process and workers > 0:
        runtime.start_background(workers=workers)
    scheme = "https" if settings.tls_cert_file else "http"
    structlog.get_logger("motcua").info("motcua.start", mode=settings.environment, engine=settings.engine)
    typer.echo(f"Motcua đang chạy tại {scheme}://{settings.host}:{settings.port} (API: /docs), {_mode_line(settings)}")
    _echo_samples(settings)
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown through the handler it found installed;
    # with ours in place the process returns here and stops its workers and scheduler cleanly.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    server = uvicorn.Server(
        uvicorn.Config(
            asgi(runtime),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            ssl_certfile=settings.tls_cert_file,
            ssl_keyfile=settings.tls_key_file,
            # an idle TLS keep-alive connection whose client never answers close_notify held the stop for asyncio's
            # 30 s SSL shutdown timeout: past this many seconds the remaining connections are dropped
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
    )
    threading.Thread(target=_report_first_page, args=(server, settings), name="first-page", daemon=True).start()
    try:
        server.run()
        if not server.started:
            raise typer.Exit(code=3)  # as uvicorn.run: the server could not start (the port is taken, …)
    finally:
        runtime.close()
        typer.echo("Motcua đã dừng.")


def _process_started() -> float:
    """When this process started, on the ``time.monotonic()`` scale (Linux: from /proc; elsewhere: when this
    module was imported, a few hundred milliseconds later)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        age = float(Path("/proc/uptime").read_text().split()[0]) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return _IMPORTED
    return min(time.monotonic() - age, _IMPORTED)


_IMPORTED = time.monotonic()


def _report_first_page(server: Any, settings: Settings) -> None:
    """Once the server listens, ask it for the home page and report how long the first page took from the start
    of the process (and of `make run`, which passes MOTCUA_RUN_STARTED, seconds since the epoch)."""
    import httpx

    started = _process_started()
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.02)
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(settings.host, settings.host)
    scheme = "https" if settings.tls_cert_file else "http"
    url = f"{scheme}://{f'[{host}]' if ':' in host else host}:{settings.port}/"
    try:  # only our own home page, to time it: the server's certificate need not be trusted here
        status = httpx.get(url, verify=False, timeout=30).status_code  # noqa: S501
    except httpx.HTTPError:
        status = 0
    seconds = time.monotonic() - started
    if status == 200:
        took = f"trang đầu tiên sau {seconds:.1f} s kể từ khi khởi động / first page {seconds:.1f} s after the start"
    else:
        took = f"lắng nghe sau {seconds:.1f} s / listening {seconds:.1f} s after the start (home page: HTTP {status})"
    line = f"Sẵn sàng / ready at {url} — {took}"
    with contextlib.suppress(ValueError):  # `make run` passes when it began: install and init included
        since_make = time.time() - float(os.environ.get("MOTCUA_RUN_STARTED", ""))
        line += f" (make run: {since_make:.1f} s, gồm cài đặt và init / install and init included)"
    structlog.get_logger("motcua").info("motcua.ready", seconds=round(seconds, 2), first_page_status=status)
    typer.echo(line)


def _echo_samples(settings: Settings) -> None:
    """The sample dossiers `motcua init` made: where to look first."""
    from motcua.app import DEMO_PASSWORD
    from motcua.samples import read_samples

    samples = read_samples(settings)
    if not samples:
        return
    people = sorted({str(s.get("on_list_of", "")) for s in samples} - {""})
    typer.echo(
        f"Hồ sơ mẫu / sample dossiers: {len(samples)} — đăng nhập / log in as {', '.join(people)} "
        f"(mật khẩu / password {DEMO_PASSWORD})"
    )


@app.command()
def worker(
    threads: Annotated[int, typer.Option(help="Worker threads in this process.")] = 1,
    engine: Annotated[str | None, typer.Option(help="embedded | operaton (default: MOTCUA_ENGINE).")] = None,
    processes: Annotated[int, typer.Option(help="Worker processes to run (each with --threads threads).")] = 1,
) -> None:
    """Standalone worker process(es) against the configured engine; stops on SIGTERM/SIGINT.

    On Operaton each fetch long-polls (MOTCUA_WORKER_POLL_SECONDS) through the Camunda external-task client.
    Several workers — threads, processes, machines — may run at once: the engine's locks give every task to one
    of them at a time, and the handlers are idempotent when a task comes back after a crash."""
    if engine:
        os.environ["MOTCUA_ENGINE"] = engine
    if processes > 1:
        _supervise(processes, threads)
        return
    from motcua.app import build_runtime
    from workers.runtime import start_in_threads

    _configure_logging(True)
    settings = Settings()
    runtime = build_runtime(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    pool = [runtime.new_worker(f"worker-{socket.gethostname()}-{os.getpid()}-{i}") for i in range(threads)]
    started = start_in_threads(pool, stop)
    runtime.stop = stop
    runtime.start_housekeeping(5.0, fire_timers=False)  # timers: Operaton's job executor, or `serve`'s scheduler
    typer.echo(
        f"worker {os.getpid()} ({settings.engine}, {settings.environment} mode): {threads} thread(s), "
        f"topics: {', '.join(sorted(runtime.worker.handlers))}"
    )
    stop.wait()
    for thread in started:
        thread.join(timeout=settings.worker_poll_seconds + 15)
    runtime.close()


def _supervise(processes: int, threads: int) -> None:
    """Run ``processes`` single worker processes; pass SIGTERM/SIGINT on and wait for them all."""
    import subprocess

    children = [
        subprocess.Popen([sys.executable, "-m", "motcua.cli", "worker", "--threads", str(threads)])
        for _ in range(processes)
    ]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    if any(codes):
        raise typer.Exit(code=max(codes))


def _catalogue_on(on: str | None) -> tuple[Any, dt.date]:
    from services.catalogue import catalogue_dirs, read_catalogue

    settings = Settings()
    entries, problems = read_catalogue(catalogue_dirs(settings.catalogue_dir))
    if problems:
        for p in problems:
            typer.echo(f"lỗi / error: {p}", err=True)
        raise typer.Exit(code=1)
    try:
        day = dt.date.fromisoformat(on) if on else dt.date.today()
    except ValueError:
        typer.echo(f"lỗi / error: --on expects YYYY-MM-DD, got {on!r}", err=True)
        raise typer.Exit(code=2) from None
    return [e for _, _, e in entries], day


def _procedure_json(entry: Any, day: dt.date) -> dict[str, Any]:
    from dossiers.catalogue import PAPER_FORM_NAMES

    version = entry.version_at(day)
    out: dict[str, Any] = {
        "code": entry.code,
        "name": entry.name,
        "field": entry.field,
        "process_key": entry.process_key,
        "online_level": entry.online_level.value,
        "channels": [c.value for c in entry.channels],
        "versions": [v.label for v in entry.versions],
    }
    if version is not None:
        out |= {
            "rule_version": version.label,
            "levels": [lv.value for lv in version.levels],
            "time_limit": {"days": version.time_limit_days, "unit": version.time_unit.value},
            "fee_vnd": version.fee_vnd,
            "legal_source": version.legal_source,
            "papers": [
                {
                    "key": p.key,
                    "name": p.name,
                    "form": p.form,
                    "form_name": PAPER_FORM_NAMES.get(p.form, p.form),
                    "count": p.count,
                    "mandatory": p.mandatory,
                }
                for p in version.papers
            ],
        }
    return out


def _limit_text(limit: dict[str, Any]) -> str:
    if limit["unit"] == "same_day":
        return "trong ngày"
    unit = "ngày làm việc" if limit["unit"] == "working_days" else "ngày"
    return f"{limit['days']:02d} {unit}"


@procedures_app.command("list")
def procedures_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    on: Annotated[str | None, typer.Option(help="Rules in force on this day (YYYY-MM-DD; default today).")] = None,
) -> None:
    """The procedures in force: code, name, levels, time limit, fee."""
    entries, day = _catalogue_on(on)
    rows = [_procedure_json(e, day) for e in entries if e.version_at(day) is not None]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        typer.echo(
            f"{r['code']:10} {r['name'][:60]:60} {','.join(r['levels']):16} "
            f"{_limit_text(r['time_limit']):18} {r['fee_vnd']:>9,} đ  {r['process_key']}"
        )


@procedures_app.command("show")
def procedures_show(
    code: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    on: Annotated[str | None, typer.Option(help="Rules in force on this day (YYYY-MM-DD; default today).")] = None,
) -> None:
    """One procedure under the rule version in force: papers, fee, time limit, legal source."""
    entries, day = _catalogue_on(on)
    entry = next((e for e in entries if e.code == code), None)
    if entry is None:
        typer.echo(f"lỗi / error: không có thủ tục mã {code} / unknown procedure {code}", err=True)
        raise typer.Exit(code=2)
    row = _procedure_json(entry, day)
    if as_json:
        typer.echo(json.dumps(row, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{row['code']} — {row['name']}\nLĩnh vực: {row['field']}\nQuy trình: {row['process_key']}")
    typer.echo(f"Phiên bản quy định: {', '.join(row['versions'])}")
    if "rule_version" not in row:
        typer.echo(f"(không có quy định hiệu lực ngày {day:%d/%m/%Y})")
        return
    typer.echo(
        f"Áp dụng từ {row['rule_version']}; cấp: {', '.join(row['levels'])}; "
        f"thời hạn: {_limit_text(row['time_limit'])}; lệ phí: {row['fee_vnd']:,} đồng; "
        f"mức độ: {row['online_level']}; kênh: {', '.join(row['channels'])}"
    )
    typer.echo("Thành phần hồ sơ:")
    for p in row["papers"]:
        typer.echo(f"  - {p['name']} ({p['form_name']}, {p['count']} bản{'' if p['mandatory'] else ', nếu có'})")
    typer.echo(f"Căn cứ pháp lý: {row['legal_source']}")


@procedures_app.command("preview")
def procedures_preview(
    code: Annotated[str, typer.Argument(help="The procedure's code (its catalogue entry names the template).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
    template: Annotated[Path | None, typer.Option(help="Preview this template file instead (a draft).")] = None,
) -> None:
    """The procedure's result template filled with its sample data, as PDF: what an administrator checks before
    publishing. A bad template is refused, each problem with its line and field (exit 1)."""
    from documents.result_templates import ResultTemplateError, load_template, preview
    from motcua.app import result_template_dirs

    entries, _ = _catalogue_on(None)
    entry = next((e for e in entries if e.code == code), None)
    if entry is None:
        typer.echo(f"lỗi / error: không có thủ tục mã {code} / unknown procedure {code}", err=True)
        raise typer.Exit(code=2)
    path = template
    if path is None:
        name = entry.result.template if entry.result is not None else None
        dirs = result_template_dirs(Settings())
        path = next((d / name for d in dirs if name and (d / name).is_file()), None)
        if path is None:
            typer.echo(
                f"lỗi / error: thủ tục {code} không có mẫu văn bản kết quả / procedure {code} has no result template",
                err=True,
            )
            raise typer.Exit(code=2)
    fields = [f.key for f in entry.form_fields] or None
    try:
        pdf = preview(load_template(path, fields), procedure_code=entry.code, procedure_name=entry.name)
    except ResultTemplateError as exc:
        for problem in exc.problems:
            typer.echo(f"{path}: {problem.vietnamese()} / {problem}", err=True)
        typer.echo(f"{len(exc.problems)} lỗi / problems", err=True)
        raise typer.Exit(code=1) from None
    out.write_bytes(pdf)
    typer.echo(f"Đã ghi / written: {out} ({len(pdf)} bytes)")


@procedures_app.command("export")
def procedures_export(
    code: Annotated[str, typer.Argument(help="The procedure's code.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write the bundle (default: standard output).")
    ] = None,
) -> None:
    """The procedure in one file (motcua-procedure/1): catalogue entry, application form, result template and
    BPMN process, for another installation to import."""
    from motcua.procedure_bundles import export_bundle

    try:
        bundle = export_bundle(Settings(), code)
    except MotcuaError as exc:
        raise _fail(exc) from None
    text = json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"Đã ghi / written: {out}")


@procedures_app.command("import")
def procedures_import(
    file: Annotated[Path, typer.Argument(help="A bundle written by `motcua procedures export`.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace the agency's own entry of that code.")] = False,
) -> None:
    """Put a shared procedure into the agency's catalogue (MOTCUA_CATALOGUE_DIR), after checking it and the whole
    catalogue as it would then be; nothing is written if anything is wrong (exit 1). `motcua init` then records it
    and deploys its process."""
    from motcua.procedure_bundles import import_bundle

    try:
        bundle = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(f"lỗi / error: không đọc được {file}: {exc} / cannot read the bundle", err=True)
        raise typer.Exit(code=1) from None
    try:
        written = import_bundle(Settings(), bundle, replace=replace)
    except MotcuaError as exc:
        raise _fail(exc) from None
    for path in written:
        typer.echo(f"Đã ghi / written: {path}")
    typer.echo("Chạy `motcua init` để ghi nhận thủ tục và triển khai quy trình. / Run `motcua init` to publish it.")


@procedures_app.command("validate")
def procedures_validate() -> None:
    """Check the catalogue, its BPMN files, roles → departments, form templates, calendar overrides and the fee
    table; one line per problem, exit 1 if any. Fees the province sets but an agency has not configured are
    warnings (exit 0)."""
    from motcua.app import catalogue_warnings, check_catalogue

    settings = Settings()
    problems = check_catalogue(settings)
    for p in problems:
        typer.echo(str(p))
    # a fee the province sets but an agency has not configured: warned, not refused (a new province must start)
    warnings = catalogue_warnings(settings)
    for w in warnings:
        typer.echo(str(w))
    if warnings:
        typer.echo(f"{len(warnings)} cảnh báo / warnings", err=True)
    if problems:
        typer.echo(f"{len(problems)} lỗi / problems", err=True)
        raise typer.Exit(code=1)
    typer.echo("Danh mục hợp lệ. / The catalogue is valid.")


@incidents_app.command("list")
def incidents_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Open incidents: dossier, step, the handler's message."""
    from motcua.app import build_runtime

    _configure_logging(False)
    runtime = build_runtime(Settings())
    try:
        found = runtime.engine.incidents()
    except MotcuaError as exc:
        raise _fail(exc) from None
    finally:
        runtime.close()
    if as_json:
        rows = [i.__dict__ | {"created_at": i.created_at.isoformat()} for i in found]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not found:
        typer.echo("Không có sự cố. / No open incidents.")
    for i in found:
        first_line = i.message.splitlines()[0] if i.message else ""
        typer.echo(f"{i.id}  {i.business_key or '-'}  {i.activity_id}  {first_line}")


@incidents_app.command("retry")
def incidents_retry(
    incident_id: str,
    retries: Annotated[int, typer.Option(help="Retries the step gets again.")] = 3,
) -> None:
    """Run a failed step again once its cause is fixed (recorded in the audit trail)."""
    from motcua.app import build_runtime
    from services.operations import retry_incident

    _configure_logging(False)
    runtime = build_runtime(Settings())
    try:
        incident = retry_incident(runtime.engine, runtime.shop.record, incident_id, "cli", retries)
    except MotcuaError as exc:
        raise _fail(exc) from None
    finally:
        runtime.close()
    typer.echo(f"{incident.id}: {incident.business_key} {incident.activity_id} — chạy lại / retried")


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[Role, typer.Option(help="reception, specialist, leader, clerk, auditor, admin, citizen")],
    full_name: Annotated[str, typer.Option("--name", help="Full name with diacritics.")],
    agency: Annotated[str | None, typer.Option(help="Agency code (officials).")] = None,
    department: Annotated[str | None, typer.Option(help="Department code (officials).")] = None,
    password: Annotated[
        str | None, typer.Option(help="Password (prompted when absent; MOTCUA_NEW_PASSWORD also works).")
    ] = None,
    update: Annotated[bool, typer.Option("--update", help="Change an existing account.")] = False,
) -> None:
    """Create (or with --update change) a local account with an argon2 password hash."""
    from motcua.app import build_runtime

    _configure_logging(False)
    settings = Settings()
    runtime = build_runtime(settings)
    try:
        if role in (Role.RECEPTION, Role.SPECIALIST, Role.LEADER, Role.CLERK):
            if not agency or not department:
                typer.echo("lỗi / error: cán bộ cần --agency và --department (officials need both)", err=True)
                raise typer.Exit(code=2)
            found = runtime.shop.agency(agency)
            if found.department(department) is None:
                typer.echo(f"lỗi / error: {agency} has no department {department}", err=True)
                raise typer.Exit(code=2)
        secret = password or os.environ.get("MOTCUA_NEW_PASSWORD")
        if secret is None:
            secret = getpass.getpass("Mật khẩu / password: ")
        person = runtime.accounts.add(
            username, secret, full_name, role, agency, department, runtime.clock.now(), update_existing=update
        )
        runtime.shop.record("admin.user_saved", "cli", username=person.username, role=person.role.value)
        runtime.certificates.person_saved(person, "cli")  # development: a leader's or clerk's certificate at once
        typer.echo(f"{person.username}: {person.role.value} {person.agency_code or ''} {person.department_code or ''}")
    except MotcuaError as exc:
        raise _fail(exc) from None
    finally:
        runtime.close()


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List local accounts."""
    from motcua.app import build_runtime

    _configure_logging(False)
    runtime = build_runtime(Settings())
    try:
        people = runtime.accounts.list()
    finally:
        runtime.close()
    if as_json:
        typer.echo(json.dumps([p.__dict__ | {"role": p.role.value} for p in people], ensure_ascii=False, indent=2))
        return
    for p in people:
        typer.echo(
            f"{p.username:20} {p.role.value:11} {p.agency_code or '-':16} {p.department_code or '-':24} {p.full_name}"
        )


@audit_app.command("verify")
def audit_verify(as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False) -> None:
    """Recompute the whole audit hash chain and check every signed checkpoint (statement, head hash, agency seal,
    timestamp). Exit 1 with one line per problem, the first broken entry first."""
    from motcua.app import build_runtime
    from services.audit import audit_report

    for noisy in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    runtime = build_runtime(Settings())
    try:
        report = audit_report(runtime)
    finally:
        runtime.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for line in report.lines():
            typer.echo(line)
    if not report.intact:
        typer.echo(report.summary(), err=True)
        raise typer.Exit(code=1)


app.command("audit-verify", help="Same as `motcua audit verify` (kept for scripts).")(audit_verify)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign (and, with MOTCUA_TSA_URL, timestamp) a checkpoint of the audit log's head now."""
    from motcua.app import build_runtime

    runtime = build_runtime(Settings())
    try:
        checkpoint = runtime.checkpoints.make(runtime.clock.now(), trigger="demand")
    except MotcuaError as exc:
        raise _fail(exc) from exc
    finally:
        runtime.close()
    if checkpoint is None:
        typer.echo("the audit log is empty: nothing to checkpoint")
        return
    stamped = "timestamped" if checkpoint.timestamped else "not timestamped (no MOTCUA_TSA_URL)"
    typer.echo(
        f"checkpoint at seq {checkpoint.seq}: head {checkpoint.head_hash[:16]}…, "
        f"signed by agency {checkpoint.agency_code}, {stamped}"
    )


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The signed PDF to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    trust: Annotated[
        list[Path] | None,
        typer.Option(
            help="PEM file of a trusted root (repeatable; the TSA's root too). Only these roots and what the file "
            "carries (chain and revocation data in its DSS) are used: nothing of this installation."
        ),
    ] = None,
    fetch: Annotated[bool | None, typer.Option("--fetch/--no-fetch", help="Fetch OCSP/CRL online.")] = None,
) -> None:
    """Check every signature of a PDF (AdES): signer, chain, time, timestamp, revocation, coverage, DocMDP.
    Exit 0 only when all pass (TOTAL-PASSED).

    Without --trust the installation's trust is used: MOTCUA_TRUST_ROOTS and, outside production, the development
    PKI's root and its CRLs as local revocation data. With --trust only the given roots and the file itself."""
    from services.verification import validator_for
    from signing.ades import format_report, report_to_dict

    for noisy in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    settings = Settings()
    if fetch is not None:
        settings = settings.model_copy(update={"verify_allow_fetching": fetch})
    try:
        validator = validator_for(settings, trust, only_extra=bool(trust))
        report = validator.report(file.read_bytes())
    except MotcuaError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(report_to_dict(report), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_report(report))
    raise typer.Exit(code=0 if report.passed else 1)


@app.command()
def demo(
    dossiers: Annotated[int, typer.Option(min=1, max=2000, help="How many dossiers to drive through.")] = 20,
    url: Annotated[
        str | None, typer.Option(help="A running server started with MOTCUA_DEMO_CLOCK=true (default: start one).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated officials' choices.")] = 2026,
    var_dir: Annotated[
        Path | None, typer.Option(help="State of the demo server (default: <MOTCUA_VAR_DIR>/demo).")
    ] = None,
) -> None:
    """Drive N dossiers over the HTTP API on the simulated clock and print the on-time figures."""
    import httpx

    from motcua.demo import DemoDriver, report

    _configure_logging(False, level=logging.WARNING)
    if url is not None:
        with httpx.Client(base_url=url, timeout=60) as client:
            health = client.get("/api/health").json()
            if not health.get("simulated_clock"):
                typer.echo(
                    "lỗi / error: máy chủ chạy bằng đồng hồ thật / the server runs on the real clock "
                    "(start it with MOTCUA_DEMO_CLOCK=true)",
                    err=True,
                )
                raise typer.Exit(code=2)
            result = DemoDriver(client, dossiers, seed, log=typer.echo, leader_device=_remote_device()).run()
        typer.echo(report(result, "<the server's object store>"))
        return
    settings = Settings(var_dir=var_dir or Settings().var_dir / "demo", demo_clock=True)
    with _demo_server(settings) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
        typer.echo(f"Máy chủ mô phỏng / demo server: {base_url} (state in {settings.var_dir})")
        from signing.device import DeviceClient

        # the leader's own device: their key file stands in for the USB token on the leader's PC
        token = settings.pki_dir / "person" / f"{LEADER_USERNAME}.p12"
        device = DeviceClient(token.read_bytes(), settings.key_passphrase)
        result = DemoDriver(client, dossiers, seed, log=typer.echo, leader_device=device).run()
    typer.echo(report(result, str(settings.objects_dir.resolve()), _demo_check(settings, result.results)))


LEADER_USERNAME = "lanhdao.xa1"


def _demo_check(settings: Settings, codes: list[str]) -> str:
    """The command that checks one of the demo's signed results from here: the demo state has its own development
    PKI (and revocation lists), which `motcua verify` trusts with that state's settings, not the installation's."""

    def shown(path: Path) -> str:
        path = path.resolve()
        return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)

    results = [p for code in codes for p in sorted(settings.objects_dir.glob(f"*/dossiers/{code}/result/*"))]
    file = shown(results[0]) if results else "<file.pdf>"
    command = sys.argv[0] if Path(sys.argv[0]).name == "motcua" else "motcua"  # as typed: `.venv/bin/motcua`
    return f"MOTCUA_VAR_DIR={shown(settings.var_dir)} {command} verify {file}"


def _remote_device() -> Any:
    """Against a remote server the leader's device key must be given (MOTCUA_DEMO_LEADER_P12)."""
    path = os.environ.get("MOTCUA_DEMO_LEADER_P12")
    if not path:
        return None
    from signing.device import DeviceClient

    passphrase = os.environ.get("MOTCUA_DEMO_LEADER_PASSPHRASE", "motcua-development-only")
    return DeviceClient(Path(path).read_bytes(), passphrase)


@contextlib.contextmanager
def _demo_server(settings: Settings) -> Iterator[str]:
    """The whole system on a simulated clock (API, in-process workers, timer scheduler) on a free port."""
    import socket

    import uvicorn

    from api.app import asgi
    from motcua.app import build_runtime, init_state
    from motcua.demo import forget_orphaned_processes

    init_state(settings)
    runtime = build_runtime(settings)  # a simulated clock that resumes after any earlier run
    runtime.engine.deploy()
    forgotten = forget_orphaned_processes(runtime)  # before the workers start: none of them may run
    if forgotten:
        typer.echo(
            f"Đã xóa khỏi Operaton quy trình của {len(forgotten)} hồ sơ không thuộc dữ liệu demo này / "
            f"deleted from Operaton the processes of {len(forgotten)} dossiers this demo state does not hold"
        )
    runtime.start_background(workers=2, timer_seconds=0.2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi(runtime), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="demo-server", daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        runtime.close()


@app.command("settings-doc")
def settings_doc() -> None:
    """Print the settings reference (Markdown) generated from the settings model."""
    from motcua.settings import settings_reference

    typer.echo(settings_reference(), nl=False)


storage_app = typer.Typer(help="Document store (MOTCUA_STORAGE_URL).", no_args_is_help=True)
app.add_typer(storage_app, name="storage")


@storage_app.command("check")
def storage_check(
    orphans: Annotated[bool, typer.Option("--orphans", help="Also list objects no document references.")] = False,
    clean: Annotated[bool, typer.Option("--clean", help="Remove orphans (never signed results).")] = False,
    grace_minutes: Annotated[float, typer.Option(help="--clean keeps orphans younger than this.")] = 60.0,
) -> None:
    """Verify every document against the store (missing, size, SHA-256, newer version); exit 1 on a problem."""
    import datetime as dt

    from persistence.dossier_records import every_document
    from persistence.uow import make_engine, transaction
    from services.shop import stored_object
    from storage.check import Record, check_store, render
    from storage.url import open_store

    settings = Settings()
    db = make_engine(settings.resolved_database_url)
    try:
        store = open_store(settings)
        # the rows are streamed (checked one by one, never all loaded) in a read-only unit: on SQLite a WAL snapshot
        # that does not hold the writer lock while the store is read
        with transaction(db, read_only=True) as conn:
            records = (
                Record(stored_object(r), f"document {r.id}, dossier {r.dossier_code}, {r.kind}")
                for r in every_document(conn)
            )
            report = check_store(
                store, records, orphans=orphans or clean, clean=clean, grace=dt.timedelta(minutes=grace_minutes)
            )
    except MotcuaError as exc:
        raise _fail(exc) from exc
    finally:
        db.dispose()
    for line in render(report, orphans=orphans or clean, clean=clean):
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(code=1)


engine_app = typer.Typer(help="Workflow engines: moving in-flight dossiers between them.", no_args_is_help=True)
app.add_typer(engine_app, name="engine")


@engine_app.command("migrate")
def engine_migrate(
    to: Annotated[str, typer.Option("--to", help="Target engine (only 'operaton').")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would happen; change nothing.")] = False,
    operaton_url: Annotated[
        str | None, typer.Option(help="Operaton REST base URL (default: MOTCUA_OPERATON_URL).")
    ] = None,
    operaton_user: Annotated[str | None, typer.Option(help="Operaton user (default: MOTCUA_OPERATON_USER).")] = None,
    operaton_password: Annotated[
        str | None, typer.Option(help="Operaton password (default: MOTCUA_OPERATON_PASSWORD).")
    ] = None,
) -> None:
    """Recreate the embedded engine's in-flight instances on Operaton at the step where each one waits
    (docs/engine-migration.md). Idempotent; exit 1 when any dossier failed."""
    from sqlalchemy import make_url

    from motcua.app import bpmn_dirs, make_clock
    from persistence.uow import make_engine
    from workflows.migration import migrate_to_operaton
    from workflows.operaton.engine import OperatonEngine

    if to != "operaton":
        typer.echo(f"lỗi / error: --to {to}: only 'operaton' is supported", err=True)
        raise typer.Exit(code=2)
    _configure_logging(False, level=logging.WARNING)
    settings = Settings()
    url = operaton_url or settings.operaton_url
    user = operaton_user or settings.operaton_user
    password = operaton_password or settings.operaton_password
    db = make_engine(settings.resolved_database_url)
    operaton: OperatonEngine | None = None
    try:
        clock = make_clock(settings, db)
        operaton = OperatonEngine(url or "", user, password, clock, bpmn_dirs(settings))
        source = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
        typer.echo(f"{'[dry run] ' if dry_run else ''}embedded ({source}) → operaton ({url})")
        report = migrate_to_operaton(
            db,
            operaton,
            clock,
            dry_run=dry_run,
            progress=lambda result: typer.echo(result.line()),
        )
    except MotcuaError as exc:
        raise _fail(exc) from None
    finally:
        if operaton is not None:
            operaton.close()
        db.dispose()
    if report.deployed:
        typer.echo(f"deployed to Operaton first: {', '.join(report.deployed)}")
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(code=1)


# ---------------------------------------------------------------------- evidence packages (auditors)

evidence_app = typer.Typer(
    help="A dossier's evidence package: export it (signed PDFs, reports, audit proof, certificates), verify it "
    "offline.",
    no_args_is_help=True,
)
app.add_typer(evidence_app, name="evidence")


@evidence_app.command("export")
def evidence_export(
    code: Annotated[str, typer.Argument(help="The dossier code.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The ZIP file to write.", dir_okay=False)],
    as_user: Annotated[
        str | None, typer.Option("--as", help="The auditor exporting (recorded in the audit log; default 'cli').")
    ] = None,
) -> None:
    """Write the evidence package of a dossier: its signed PDFs, a validation report of each, its audit entries
    with the chain proof up to a signed (and timestamped) checkpoint, the certificates; recorded as
    evidence.exported."""
    from motcua.app import build_runtime
    from services.evidence import export_evidence

    _configure_logging(False, level=logging.WARNING)
    for noisy in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    runtime = build_runtime(Settings())
    try:
        actor = "cli"
        if as_user is not None:
            person = runtime.accounts.get(as_user)
            if person is None or person.role != Role.AUDITOR:
                typer.echo(f"lỗi / error: '{as_user}' is not an auditor's account", err=True)
                raise typer.Exit(code=2)
            actor = person.username
        package = export_evidence(runtime, code, actor, channel="cli")
    except MotcuaError as exc:
        raise _fail(exc) from None
    finally:
        runtime.close()
    partial = output.with_name(output.name + ".part")
    partial.write_bytes(package.data)
    partial.replace(output)
    stamped = "signed and timestamped" if package.timestamped else "signed, not timestamped (no MOTCUA_TSA_URL)"
    typer.echo(
        f"{output}: dossier {package.dossier_code}, {package.documents} signed document(s), audit proof up to "
        f"checkpoint {package.checkpoint_seq} ({stamped}); SHA-256 {package.sha256}"
    )


@evidence_app.command("verify")
def evidence_verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The evidence package (ZIP).")],
    trust: Annotated[
        list[Path] | None,
        typer.Option(help="PEM file of a trusted root (repeatable); without it, the package's own roots are used."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdicts as JSON.")] = False,
) -> None:
    """Check an evidence package offline (no database, no server, no network): the signed manifest and every file's
    SHA-256, each PDF's signatures, each report against a fresh validation, the audit proof up to the signed
    checkpoint and its timestamp. Exit 0 only when every check holds."""
    from services.evidence_verify import main as verify_package_main

    raise typer.Exit(code=verify_package_main(file, trust or [], as_json=as_json, echo=typer.echo))


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except MotcuaError as exc:
        typer.echo(f"lỗi / error: {exc.message_vi} — {exc.message_en}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
