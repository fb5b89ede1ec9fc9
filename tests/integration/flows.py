"""Paths through the generic procedure, and a driver that pushes dossiers along them over HTTP.

The driver keeps no memory of what it did: the next step of a dossier is derived from the dossier's audit
history (``task.completed`` and ``dossier.supplemented`` are written in the same transaction as the
engine step), so it can resume after the server was killed at any moment.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from tests.integration.server import FINAL_STATUSES, LEADER, RECEPTION, SPECIALIST, Api

SUPPLEMENT = "supplement"  # the citizen's action, not a user task
SIGN = "sign_result"  # completed by the leader's device signature, not by a click
CLERK = "vanthu.xa1"
ACTIVITY_USER = {"review": SPECIALIST, "approve": LEADER, "register_number": CLERK, "return_result": RECEPTION}


@dataclass(frozen=True)
class Step:
    activity: str
    decision: str | None = None


ISSUE = (Step(SIGN), Step("register_number"))  # after the leader's approval: signature, then number and date


PLANS: dict[str, tuple[Step, ...]] = {
    "approve": (Step("review", "approve"), Step("approve", "approve"), *ISSUE, Step("return_result")),
    "supplement": (
        Step("review", "supplement"),
        Step(SUPPLEMENT),
        Step("review", "approve"),
        Step("approve", "approve"),
        *ISSUE,
        Step("return_result"),
    ),
    "refuse": (Step("review", "refuse"),),
    "leader_return": (
        Step("review", "approve"),
        Step("approve", "return"),
        Step("review", "approve"),
        Step("approve", "approve"),
        *ISSUE,
        Step("return_result"),
    ),
}
EXPECTED_STATUSES: dict[str, list[str]] = {
    "approve": ["in_progress", "result_ready", "returned"],
    "supplement": ["in_progress", "supplement_requested", "in_progress", "result_ready", "returned"],
    "refuse": ["in_progress", "refused"],
    "leader_return": ["in_progress", "result_ready", "returned"],
}
PLAN_CYCLE = ("approve", "supplement", "refuse", "leader_return")


def expected_completions(plan: str) -> Counter[str]:
    return Counter(s.activity for s in PLANS[plan] if s.activity != SUPPLEMENT)


@dataclass(frozen=True)
class Snapshot:
    code: str
    done: tuple[Step, ...]  # steps taken so far, in audit order
    statuses: tuple[str, ...]  # every dossier.status_changed, in order
    history: tuple[dict[str, Any], ...]

    @property
    def status(self) -> str:
        return self.statuses[-1] if self.statuses else "received"

    @property
    def final(self) -> bool:
        return any(s in FINAL_STATUSES for s in self.statuses)


def snapshot(api: Api, code: str) -> Snapshot:
    history = api.history(code)
    done: list[Step] = []
    statuses: list[str] = []
    for e in history:
        if e["kind"] == "task.completed":
            done.append(Step(e["details"]["task"], e["details"].get("decision")))
        elif e["kind"] == "dossier.supplemented":
            done.append(Step(SUPPLEMENT))
        elif e["kind"] == "dossier.status_changed":
            statuses.append(e["details"]["status"])
    return Snapshot(code, tuple(done), tuple(statuses), tuple(history))


def check_prefix(plan: str, snap: Snapshot) -> None:
    steps = PLANS[plan]
    assert snap.done == steps[: len(snap.done)], (
        f"{snap.code} ({plan}): the history {snap.done} is not a prefix of the plan {steps}"
    )


def open_tasks(
    api: Api, users: Sequence[str] = (SPECIALIST, LEADER, CLERK, RECEPTION)
) -> dict[tuple[str, str], list[str]]:
    """(dossier code, activity) → ids of the open user tasks (a list, to notice doubles)."""
    found: dict[tuple[str, str], list[str]] = {}
    for user in users:
        for t in api.tasks(user):
            found.setdefault((t["dossier_code"], t["activity_id"]), []).append(t["id"])
    return found


Action = tuple[str, Callable[[], httpx.Response]]


def next_actions(api: Api, plans: Mapping[str, str], snaps: Mapping[str, Snapshot]) -> list[Action]:
    """One HTTP action per dossier whose next step is possible now (the rest wait for the workers)."""
    tasks = open_tasks(api)
    actions: list[Action] = []
    for code, snap in snaps.items():
        plan = PLANS[plans[code]]
        if len(snap.done) >= len(plan):
            continue
        step = plan[len(snap.done)]
        if step.activity == SUPPLEMENT:
            if snap.status == "supplement_requested":
                actions.append((code, lambda c=code: api.supplement(c)))
            continue
        ids = tasks.get((code, step.activity), [])
        assert len(ids) <= 1, f"{code}: {len(ids)} open '{step.activity}' tasks: {ids}"
        if ids and step.activity == SIGN:
            actions.append((code, lambda c=code: api.sign_on_device(c)))
        elif ids:
            user = ACTIVITY_USER[step.activity]
            actions.append((code, lambda t=ids[0], u=user, d=step.decision: api.complete(t, u, d)))
    return actions


def finished(plans: Mapping[str, str], snap: Snapshot) -> bool:
    return snap.final and len(snap.done) == len(PLANS[plans[snap.code]])


def drive_to_end(
    api: Api,
    plans: Mapping[str, str],
    pool: ThreadPoolExecutor,
    timeout: float = 45.0,
    max_rounds: int = 500,
) -> dict[str, Snapshot]:
    """Complete tasks and supply papers until every dossier reached the end of its plan (bounded)."""
    deadline = time.monotonic() + timeout
    snaps: dict[str, Snapshot] = {}
    pending = sorted(plans)
    for _ in range(max_rounds):
        fresh = dict(zip(pending, pool.map(lambda c: snapshot(api, c), pending), strict=True))
        for code, snap in fresh.items():
            check_prefix(plans[code], snap)
        snaps.update(fresh)
        pending = [c for c in pending if not finished(plans, snaps[c])]
        if not pending:
            return snaps
        if time.monotonic() > deadline:
            break
        actions = next_actions(api, plans, {c: snaps[c] for c in pending})
        responses = list(pool.map(lambda a: (a[0], a[1]()), actions))
        for code, r in responses:
            assert r.status_code == 200, f"{code}: {r.status_code} {r.text}"
        if not actions:
            time.sleep(0.15)  # nothing to do until a worker moves a dossier on
    stuck = {c: (plans[c], snaps[c].status, snaps[c].done) for c in pending}
    raise AssertionError(f"dossiers did not finish within {timeout} s / {max_rounds} rounds: {stuck}")
