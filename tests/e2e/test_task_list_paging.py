"""The officials' task list costs what the official sees (issue 17, point 1): the engine hands the desk only the
open tasks of the official's role in their own agency, and ``GET /api/tasks`` pages them in due order."""

from __future__ import annotations

from typing import Any

from dossiers.model import Role
from motcua.app import DEMO_PASSWORD
from tests.conftest import COMMUNE, OTHER_COMMUNE, Api


def other_commune(api: Api) -> None:
    now = api.runtime.clock.now()
    api.runtime.accounts.add("tiepnhan.xa2", DEMO_PASSWORD, "Cán bộ xã 2", Role.RECEPTION, OTHER_COMMUNE, None, now)
    api.runtime.accounts.add(
        "chuyenvien.xa2", DEMO_PASSWORD, "Chuyên viên xã 2", Role.SPECIALIST, OTHER_COMMUNE, f"{OTHER_COMMUNE}-PKT", now
    )


def codes(api: Api, username: str, **params: Any) -> list[str]:
    r = api.get("/api/tasks", username, params=params)
    assert r.status_code == 200, r.text
    return [t["dossier_code"] for t in r.json()]


def test_a_specialist_never_receives_another_agency_s_tasks(api: Api) -> None:
    other_commune(api)
    mine = [api.received() for _ in range(2)]
    theirs = [api.received("tiepnhan.xa2", applicant_name="Người Xã Khác") for _ in range(2)]
    assert sorted(codes(api, "chuyenvien1.xa1")) == sorted(mine)
    assert sorted(codes(api, "chuyenvien.xa2")) == sorted(theirs)
    # the engine itself returns only the agency's tasks: the desk never reads the other commune's
    engine = api.runtime.engine
    listed = {t.business_key for t in engine.user_tasks(candidate_groups=["specialist"], tenant=COMMUNE)}
    assert listed == set(mine)
    listed = {t.business_key for t in engine.user_tasks(candidate_groups=["specialist"], tenant=OTHER_COMMUNE)}
    assert listed == set(theirs)
    # and a task of another agency stays out of reach by its id too
    [task] = [t for t in engine.user_tasks(business_key=theirs[0])]
    r = api.post(f"/api/tasks/{task.id}/claim", "chuyenvien1.xa1")
    assert r.status_code == 403, r.text


def test_pages_are_disjoint_slices_in_due_order(api: Api) -> None:
    made = []
    for _ in range(5):
        made.append(api.received())
        api.advance(hours=1)  # each received later: due later
    whole = api.get("/api/tasks", "chuyenvien1.xa1").json()
    assert [t["dossier_code"] for t in whole] == made
    assert [t["due_at"] for t in whole] == sorted(t["due_at"] for t in whole)
    pages = [codes(api, "chuyenvien1.xa1", limit=2, offset=o) for o in (0, 2, 4, 6)]
    assert pages == [made[0:2], made[2:4], made[4:5], []]
    assert codes(api, "chuyenvien1.xa1", limit=1) == made[:1]


def test_bad_paging_is_refused_in_vietnamese(api: Api) -> None:
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "nhiều"}):
        r = api.get("/api/tasks", "chuyenvien1.xa1", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), r.headers
        assert r.json()["title"] == "Dữ liệu gửi lên không hợp lệ.", r.text
