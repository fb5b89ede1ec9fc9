"""The scale benchmark's builder and table (bench/scale.py) on a small SQLite state: every row of the table is
printed, and the dossiers it built through the services are where the plan left them."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

from bench.scale import COMMUNES, PROGRESS_FILE, ROWS, STEPS, Mix, quiet, run
from motcua.app import build_runtime
from motcua.settings import Settings

SIZE = 20
# a richer mix than a province's, so that 20 dossiers show every state
MIX = Mix(open=0.2, reception=0.1, refused=0.1, late=0.1, online=0.3)
STATUS = {"finished": "returned", "refused": "refused", "waiting_for_reception": "submitted", "late": "in_progress"}


def test_the_builder_makes_dossiers_in_the_intended_states_and_the_table_has_every_row(tmp_path: Path) -> None:
    quiet()
    settings = Settings(var_dir=tmp_path / "var", demo_clock=True)
    (tmp_path / "logs").mkdir()
    lines: list[str] = []
    builder = run(settings, [SIZE], "sqlite", mix=MIX, measure_http=False, out=lines.append)

    printed = "\n".join(lines)
    for row in ROWS:
        assert f"| {row} |" in printed, (row, printed)
    assert f"sqlite, {SIZE} dossiers" in printed
    intended = builder.intended
    assert len(intended) == SIZE
    counts = Counter(intended.values())
    assert counts["finished"] >= SIZE // 2, counts
    assert counts["waiting_for_reception"] == 2 and sum(v for k, v in counts.items() if k.startswith("open_at_")) == 4
    assert f"{counts['finished']} / {counts['refused']} / " in printed

    runtime = build_runtime(settings)
    try:
        auditor = runtime.accounts.get("thanhtra.tinh")
        assert auditor is not None
        assert runtime.search.search(auditor, None).total == SIZE
        now = runtime.clock.now()
        first_day = dt.date.fromisoformat(json.loads((settings.var_dir / PROGRESS_FILE).read_text())["first_day"])
        received = [dt.datetime.fromisoformat(str(runtime.shop.dossier_view(c)["received_at"])) for c in intended]
        assert max(received).date() - first_day <= dt.timedelta(days=18 * 30.44 + 7)  # 18 months, not more
        assert max(received).date() - first_day >= dt.timedelta(days=17 * 30.44)
        people = {c.code: c for c in COMMUNES}
        for code, state in intended.items():
            view = runtime.shop.dossier_view(code)
            if state in STATUS:
                assert view["status"] == STATUS[state], (code, state, view["status"])
            else:  # open at a step: the task is on the list of whoever takes that step in the dossier's commune
                step = state.removeprefix("open_at_")
                assert step in STEPS
                assert view["status"] in ("in_progress", "result_ready"), (code, state, view["status"])
                commune = people[view["agency_code"]]
                who = {
                    "review": (commune.business, commune.civil),
                    "approve": (commune.leader,),
                    "sign_result": (commune.leader,),
                    "register_number": (commune.clerk,),
                    "return_result": (commune.reception,),
                }[step]
                officials = [runtime.accounts.get(username) for username in who]
                listed = {
                    t["activity_id"]
                    for official in officials
                    if official is not None
                    for t in runtime.tasks.tasks_for(official)
                    if t["dossier_code"] == code
                }
                assert listed == {step}, (code, state, listed)
            if state == "late":
                assert dt.datetime.fromisoformat(str(view["due_at"])) < now, (code, view["due_at"], now)
            if state == "finished":
                kinds = {d["kind"] for d in view["documents"]}
                assert "result" in kinds, (code, kinds)
    finally:
        runtime.close()
