"""Bytes a dossier leaves behind (issue 17, point 4): the embedded engine's state of finished processes and the
stored objects (uploads among them), measured on a demo run — then again after housekeeping pruned the finished
processes' state.

    python bench/lean_storage.py [--dossiers 10] [--var-dir DIR]

Runs ``motcua demo`` (the HTTP API on the simulated clock, local object store) unless ``--var-dir`` already holds
one, then prints per dossier: engine state bytes of the finished ones (``wf_instance.state`` + ``summary``), the
objects' bytes (files under ``objects/``, hard links counted once), of which staging uploads (``*/incoming/*``) and
filed uploads. Run from an older checkout (``git archive``) to get the "before" figures: the pruning part is then
skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402


def objects(root: Path) -> dict[str, int]:
    """Bytes under ``root`` by area; a file with several names (hard links) counts once."""
    seen: set[tuple[int, int]] = set()
    areas = {"all": 0, "incoming": 0, "filed uploads": 0, "other": 0}
    for path in root.rglob("*"):
        if not path.is_file() or any(p.startswith(".") for p in path.relative_to(root).parts):
            continue
        st = path.stat()
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        key = path.relative_to(root).as_posix()
        area = (
            "incoming"
            if "/incoming/" in key
            else "filed uploads"
            if "/upload/" in key or "/supplement/" in key
            else "other"
        )
        areas[area] += st.st_size
        areas["all"] += st.st_size
    return areas


def measure(var_dir: Path) -> dict[str, Any]:
    db = create_engine(f"sqlite:///{var_dir / 'motcua.sqlite3'}")
    with db.connect() as conn:
        dossiers = conn.execute(text("SELECT count(*) FROM dossier")).scalar_one()
        columns = {r[1] for r in conn.execute(text("PRAGMA table_info(wf_instance)"))}
        summary = "coalesce(length(summary), 0)" if "summary" in columns else "0"
        finished, state = conn.execute(
            text(
                f"SELECT count(*), coalesce(sum(length(state) + {summary}), 0) FROM wf_instance "
                "WHERE status = 'completed'"
            )
        ).one()
        running_state = conn.execute(
            text("SELECT coalesce(avg(length(state)), 0) FROM wf_instance WHERE status = 'running'")
        ).scalar_one()
        uploads = conn.execute(
            text("SELECT count(*), coalesce(sum(size), 0) FROM document WHERE kind IN ('upload', 'supplement')")
        ).one()
    db.dispose()
    stored = objects(var_dir / "objects")
    return {
        "dossiers": dossiers,
        "finished processes": finished,
        "engine state per finished process (bytes)": round(state / finished) if finished else 0,
        "engine state per running process (bytes)": round(running_state),
        "uploaded documents": uploads[0],
        "uploaded bytes per dossier": round(uploads[1] / dossiers) if dossiers else 0,
        **{f"stored bytes per dossier: {k}": round(v / dossiers) if dossiers else 0 for k, v in stored.items()},
    }


def prune(var_dir: Path) -> int | None:
    """Housekeeping's pruning with a retention of 0 days; None where this checkout has none."""
    try:
        from motcua.housekeeping import prune_engine_state
    except ImportError:
        return None
    from motcua.app import build_runtime
    from motcua.settings import Settings

    runtime = build_runtime(Settings(var_dir=var_dir, demo_clock=True, engine_state_retention_days=0))
    try:
        total = 0
        while done := prune_engine_state(runtime):
            total += done
        return total
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=10)
    parser.add_argument("--var-dir", type=Path)
    args = parser.parse_args()
    var_dir = args.var_dir or Path(tempfile.mkdtemp(prefix="motcua-lean-")) / "demo"
    if not (var_dir / "motcua.sqlite3").exists():
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        subprocess.run(
            [sys.executable, "-c", "from motcua.cli import app; app()", "demo", "--dossiers", str(args.dossiers),
             "--var-dir", str(var_dir)],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
    print(json.dumps({"var_dir": str(var_dir), "after the demo": measure(var_dir)}, indent=2))
    pruned = prune(var_dir)
    if pruned is not None:
        print(json.dumps({"pruned": pruned, "after pruning": measure(var_dir)}, indent=2))


if __name__ == "__main__":
    main()
