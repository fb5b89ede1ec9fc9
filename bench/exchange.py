"""Exchange benchmark: signed envelopes per second, end to end, between two Motcua installations (issue 9).

Installation B (the land registration office) runs as a real ``motcua serve`` on loopback with its own var dir,
database, store and development PKI; installation A (the commune) is this process: a runtime on its own var
dir (``build_runtime``) whose partner file points at B. Untimed: ``--envelopes`` land dossiers are registered at
A (two uploaded PDFs each). Then, timed:

(a) **sign and queue** — for every dossier ``EnvelopeExchange.send``: read and hash the documents, build the
    manifest, sign it with the commune's seal (CAdES, PKCS#12 key), write the outbox row and the audit entry;
(b) **deliver** — ``--threads`` delivery loops (``deliver_due``, as housekeeping runs it) until every envelope
    is acknowledged: HTTP POST of the envelope (documents base64), B checks the signature against A's root and
    the unit code, every SHA-256 and the message id, registers the dossier, stores the documents, starts its
    partner process, signs the ACK; A checks the ACK's signature and stores it.

envelopes/s = envelopes / wall time of each phase, and of both together ("end to end"). At the end every
outbox row is ``delivered`` and B's inbox holds each message once.

Run: ``python bench/exchange.py`` (defaults ``--envelopes 200 --threads 1,4``). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dossiers.model import Role  # noqa: E402
from dossiers.ports import ExchangeDocument  # noqa: E402
from motcua.app import build_runtime  # noqa: E402
from motcua.settings import Settings  # noqa: E402
from services.intake import Applicant  # noqa: E402
from services.uploads import Upload  # noqa: E402
from signing.pki import DevelopmentPki  # noqa: E402
from tests.conftest import minimal_pdf  # noqa: E402
from tests.integration.server import MotcuaServer, free_port  # noqa: E402

COMMUNE = "000.00.31.H99"
LAND_OFFICE = "000.40.00.H99"
LAND = "1.013978"
DETAILS = {
    "land_address": "Xóm Bãi, xã Hòa An, tỉnh Demo",
    "parcel_number": "215",
    "map_sheet": "07",
    "area_m2": 120,
    "land_use_purpose": "Đất ở tại nông thôn",
    "land_origin": "Được ông bà để lại, sử dụng ổn định từ năm 1990",
    "used_since": "1990-06-01",
}


def _partners(path: Path, url: str, pki: DevelopmentPki, agency: str) -> None:
    entry = {
        "agency": agency,
        "url": url,
        "trust_roots": [str(pki.root_cert_path)],
        "certificates": [str(pki.root_dir / "agency" / f"{agency}.pem")],
    }
    path.write_text(json.dumps({"partners": [entry]}), encoding="utf-8")


def run(envelopes: int, threads: int, base: Path) -> dict[str, float]:
    base.mkdir(parents=True)
    servers = {}
    for name in ("a", "b"):
        (base / name / "logs").mkdir(parents=True)
        servers[name] = MotcuaServer(var_dir=base / name / "var", log_dir=base / name / "logs", port=free_port())
        servers[name].init()
    a, b = servers["a"], servers["b"]
    pki_a, pki_b = DevelopmentPki(a.var_dir / "pki"), DevelopmentPki(b.var_dir / "pki")
    _partners(base / "a.json", f"{b.base_url}/api/exchange/envelopes", pki_b, LAND_OFFICE)
    b_partners = {
        "partners": [
            {
                "agency": COMMUNE,
                "url": f"{a.base_url}/api/exchange/envelopes",
                "trust_roots": [str(pki_a.root_cert_path)],
            }
        ]
    }
    (base / "b.json").write_text(json.dumps(b_partners), encoding="utf-8")
    b.extra_env["MOTCUA_EXCHANGE_PARTNERS_FILE"] = str(base / "b.json")
    b.start()
    settings = Settings(var_dir=a.var_dir, demo_clock=True, exchange_partners_file=str(base / "a.json"))
    runtime = build_runtime(settings)
    try:
        shop, exchange = runtime.shop, runtime.exchange
        assert exchange is not None
        reception = runtime.accounts.get("tiepnhan.xa1")
        assert reception is not None and reception.role == Role.RECEPTION
        codes = []
        for i in range(envelopes):
            uploads = [
                Upload("don_dang_ky", "don.pdf", "application/pdf", io.BytesIO(minimal_pdf(f"don {i}"))),
                Upload("giay_to_nhan_than", "cccd.pdf", "application/pdf", io.BytesIO(minimal_pdf(f"cccd {i}"))),
            ]
            made = runtime.intake.intake(
                reception, LAND, Applicant(f"Nguyễn Văn {i}", "001090012345"), uploads, details=DETAILS
            )
            codes.append(str(made["code"]))
        documents = {
            code: [
                ExchangeDocument(d["id"], d["kind"], d["filename"], d["sha256"])
                for d in shop.dossier_view(code)["documents"]
            ]
            for code in codes
        }
        step = {"activity": "cadastral_check", "name": "Kiểm tra hồ sơ địa chính", "process": "land_registration"}
        started = time.perf_counter()
        for code in codes:
            exchange.send(
                COMMUNE, LAND_OFFICE, code, f"{code}/bench", documents[code], {"kind": "handoff", "step": step}
            )
        queued = time.perf_counter()

        def loop() -> None:
            while exchange.deliver_due(limit=5):
                pass

        workers = [threading.Thread(target=loop) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        delivered = time.perf_counter()
        with sqlite3.connect(a.var_dir / "motcua.sqlite3") as conn:
            statuses = dict(conn.execute("SELECT status, count(*) FROM exchange_outbox GROUP BY status").fetchall())
        with sqlite3.connect(b.var_dir / "motcua.sqlite3") as conn:
            inbox = conn.execute("SELECT count(*), count(DISTINCT message_id) FROM exchange_inbox").fetchone()
        if statuses != {"delivered": envelopes} or tuple(inbox) != (envelopes, envelopes):
            raise SystemExit(f"not every envelope was delivered once: outbox {statuses}, inbox {inbox}")
        return {
            "sign_and_queue_per_s": envelopes / (queued - started),
            "deliver_per_s": envelopes / (delivered - queued),
            "end_to_end_per_s": envelopes / (delivered - started),
            "ms_per_envelope": 1000 * (delivered - started) / envelopes,
        }
    finally:
        runtime.close()
        a.close()
        b.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envelopes", type=int, default=200)
    parser.add_argument("--threads", default="1,4")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"envelopes per run: {args.envelopes} (2 PDFs each), A in this process, B = motcua serve (SQLite)\n")
    print("| delivery threads | sign+queue env/s | deliver env/s | end to end env/s | ms/envelope |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="motcua-bench-exchange-") as tmp:
        for n in (int(x) for x in args.threads.split(",")):
            r = run(args.envelopes, n, Path(tmp) / f"run-{n}")
            print(
                f"| {n} | {r['sign_and_queue_per_s']:.1f} | {r['deliver_per_s']:.1f} | "
                f"{r['end_to_end_per_s']:.1f} | {r['ms_per_envelope']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
