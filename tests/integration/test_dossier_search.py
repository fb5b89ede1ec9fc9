"""Finding a dossier (services/search.py, persistence/dossier_search.py): by code typed in lower case, with spaces or
in part, by the applicant's name with or without diacritics, by ID number and phone; within what the official may
read; a page at a time, newest first; the dossiers an official or their department handled; the search text kept
with the applicant's data and filled for the dossiers that existed before (migration 0008), on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from dossiers.errors import Forbidden, InvalidInput
from dossiers.model import Person, Role
from motcua.app import DEMO_PASSWORD, Runtime
from persistence import dossier_records
from persistence.migrate import alembic_config, upgrade
from persistence.uow import make_engine, transaction
from services.search import DossierSearch
from tests.conftest import COMMUNE, HOUSEHOLD_BUSINESS, OTHER_COMMUNE, Api
from tests.integration.postgres import PostgresCluster

pytestmark = pytest.mark.integration

SEARCH = "/api/dossiers/search"


def submitted(api: Api, name: str, id_number: str = "001090012345", **fields: str) -> str:
    r = api.submit(
        "tiepnhan.xa1", HOUSEHOLD_BUSINESS, None, applicant_name=name, applicant_id_number=id_number, **fields
    )
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def person(runtime: Runtime, username: str) -> Person:
    found = runtime.accounts.get(username)
    assert found is not None, username
    return found


def codes(runtime: Runtime, username: str, text: str, **kw: object) -> list[str]:
    return [f.code for f in runtime.search.search(person(runtime, username), text, **kw).rows]  # type: ignore[arg-type]


def test_a_name_is_found_with_or_without_diacritics_and_in_any_case(api: Api) -> None:
    an = submitted(api, "Nguyễn Văn A")
    anh = submitted(api, "Trần Thị Ánh Đào", "001190054321")
    rt = api.runtime
    assert codes(rt, "chuyenvien1.xa1", "nguyen van a") == [an]
    assert codes(rt, "chuyenvien1.xa1", "NGUYỄN văn A") == [an]
    assert codes(rt, "chuyenvien1.xa1", "  nguyen   van  ") == [an]
    assert codes(rt, "chuyenvien1.xa1", "dao") == [anh]  # đ is d
    assert codes(rt, "chuyenvien1.xa1", "Đào tran") == [anh]  # the words in any order
    assert codes(rt, "chuyenvien1.xa1", "van b") == []  # every word must be there
    assert codes(rt, "chuyenvien1.xa1", "guyen") == []  # a word is matched from its start
    assert codes(rt, "chuyenvien1.xa1", "") == [anh, an]  # nothing typed: every dossier, newest first
    assert codes(rt, "chuyenvien1.xa1", "50%_") == []  # LIKE's wildcards are plain characters


def test_a_code_is_found_in_lower_case_with_spaces_or_in_part(api: Api) -> None:
    first = submitted(api, "Nguyễn Văn An")
    second = submitted(api, "Lê Văn Bình", "001090099999")
    assert first == f"{COMMUNE}-260302-0001" and second == f"{COMMUNE}-260302-0002"
    rt = api.runtime
    assert codes(rt, "tiepnhan.xa1", first.lower()) == [first]
    assert codes(rt, "tiepnhan.xa1", " 000.00.31.h99 - 260302 - 0002 ") == [second]
    assert codes(rt, "tiepnhan.xa1", "260302-0001") == [first]  # a part of the code
    assert codes(rt, "tiepnhan.xa1", "0002") == [second]  # its serial
    assert codes(rt, "tiepnhan.xa1", "260302") == [second, first]


def test_an_id_number_and_a_phone_are_found_as_people_type_them(api: Api) -> None:
    with_phone = submitted(api, "Phạm Thị Cúc", "079185000111", applicant_phone="+84 912 345 678")
    local = submitted(api, "Hoàng Văn Dũng", "079185000222", applicant_phone="0987.654.321")
    rt = api.runtime
    assert codes(rt, "chuyenvien1.xa1", "079185000111") == [with_phone]
    assert codes(rt, "chuyenvien1.xa1", "0791850002") == [local]  # the start of an ID number
    assert codes(rt, "chuyenvien1.xa1", "0912 345 678") == [with_phone]  # +84 is 0
    assert codes(rt, "chuyenvien1.xa1", "+84987654321") == [local]  # 0 is +84
    assert codes(rt, "chuyenvien1.xa1", "654-321") == [local]
    assert codes(rt, "chuyenvien1.xa1", "079185") == [local, with_phone]


def test_an_official_of_another_agency_finds_nothing_and_an_auditor_everything(api: Api) -> None:
    code = submitted(api, "Nguyễn Văn A")
    rt = api.runtime
    now = rt.clock.now()
    rt.accounts.add("chuyenvien.xa2", DEMO_PASSWORD, "Chuyên viên xã 2", Role.SPECIALIST, OTHER_COMMUNE, None, now)
    assert codes(rt, "chuyenvien.xa2", "nguyen van a") == []
    assert codes(rt, "chuyenvien.xa2", code) == []
    assert codes(rt, "chuyenvien.xa2", "") == []
    assert codes(rt, "chuyenvien.vpdk", "") == []  # another agency of the province
    assert codes(rt, "thanhtra.tinh", "nguyen van a") == [code]
    with pytest.raises(Forbidden):
        rt.search.search(person(rt, "congdan1"), "nguyen")
    # the same over HTTP
    found = api.get(SEARCH, "chuyenvien.xa2", params={"q": code}).json()
    assert found == {"total": 0, "page": 1, "per_page": 20, "pages": 1, "items": []}
    assert api.get(SEARCH, "congdan1", params={"q": "nguyen"}).status_code == 403
    mine = api.get(SEARCH, "chuyenvien1.xa1", params={"q": "nguyen van a"}).json()
    assert [i["code"] for i in mine["items"]] == [code]
    assert mine["items"][0]["applicant_name"] == "Nguyễn Văn A"
    assert mine["items"][0]["status_label"] == "Đã tiếp nhận"


def test_a_dossier_handed_to_a_partner_agency_is_found_there(api: Api) -> None:
    code = submitted(api, "Nguyễn Văn A")
    rt = api.runtime
    assert codes(rt, "chuyenvien.vpdk", "") == []
    rt.shop.record("exchange.delivered", "system", code, sender=COMMUNE, receiver="000.40.00.H99", message_id="m-1")
    rt.shop.authorize_dossier(person(rt, "chuyenvien.vpdk"), code)  # the desk lets the partner read it…
    assert codes(rt, "chuyenvien.vpdk", "nguyen") == [code]  # …and the search finds it there
    assert codes(rt, "chuyenvien.thue", "nguyen") == []


def test_results_come_a_page_at_a_time_newest_first(api: Api) -> None:
    made = []
    for i in range(5):
        made.append(submitted(api, f"Nguyễn Văn Số{i}"))
        api.advance(minutes=10)
    rt = api.runtime
    official = person(rt, "chuyenvien1.xa1")
    pages = [rt.search.search(official, "nguyen", page=n, per_page=2) for n in (1, 2, 3)]
    assert [p.total for p in pages] == [5, 5, 5] and pages[0].pages == 3
    assert [f.code for p in pages for f in p.rows] == list(reversed(made))
    assert rt.search.search(official, "nguyen", page=4, per_page=2).rows == ()
    by_api = api.get(SEARCH, "chuyenvien1.xa1", params={"q": "nguyen", "page": 2, "per_page": 2}).json()
    assert [i["code"] for i in by_api["items"]] == [made[2], made[1]] and by_api["pages"] == 3
    assert api.get(SEARCH, "chuyenvien1.xa1", params={"per_page": 101}).status_code == 422
    assert api.get(SEARCH, "chuyenvien1.xa1", params={"page": 0}).status_code == 422
    assert api.get(SEARCH, "chuyenvien1.xa1", params={"q": "x" * 101}).status_code == 422
    assert api.get(SEARCH, "chuyenvien1.xa1", params={"status": "nonsense"}).status_code == 422


def test_filters_by_procedure_and_status(api: Api) -> None:
    code = submitted(api, "Nguyễn Văn A")
    rt = api.runtime
    assert codes(rt, "chuyenvien1.xa1", "", procedure_code="1.001612") == [code]
    assert codes(rt, "chuyenvien1.xa1", "", procedure_code="1.001193") == []
    status = rt.shop.dossier_row(code).status
    assert codes(rt, "chuyenvien1.xa1", "", status=status) == [code]
    assert codes(rt, "chuyenvien1.xa1", "", status="returned") == []
    with pytest.raises(InvalidInput):
        rt.search.search(person(rt, "chuyenvien1.xa1"), "", status="nonsense")


def test_a_page_of_results_is_recorded_as_a_listing_of_personal_data(api: Api) -> None:
    code = submitted(api, "Nguyễn Văn A")
    rt = api.runtime
    rt.search.search(person(rt, "chuyenvien1.xa1"), "nguyen")
    listed = [e for e in rt.audit.all() if e.event.kind == "dossier.listed"]
    assert listed and listed[-1].event.actor == "chuyenvien1.xa1" and listed[-1].event.details["codes"] == [code]


def test_handled_lists_what_the_official_or_their_department_completed(api: Api) -> None:
    rt = api.runtime
    rt.accounts.add(
        "chuyenvien3.xa1", DEMO_PASSWORD, "Đồng nghiệp", Role.SPECIALIST, COMMUNE, f"{COMMUNE}-PKT", rt.clock.now()
    )
    decided = submitted(api, "Nguyễn Văn A")
    waiting = submitted(api, "Lê Thị B", "001190000002")
    api.work()
    assert api.decide("chuyenvien1.xa1", decided, "approve", "Hợp lệ").status_code == 200

    def handled(username: str) -> list[str]:
        return [f.code for f in rt.search.handled(person(rt, username)).rows]

    assert handled("chuyenvien1.xa1") == [decided]
    assert handled("chuyenvien3.xa1") == [decided]  # the same department
    assert handled("chuyenvien2.xa1") == []  # another department
    assert handled("lanhdao.xa1") == []  # not yet
    assert waiting not in handled("chuyenvien1.xa1")
    api.advance(hours=1)
    assert api.decide("lanhdao.xa1", decided, "approve").status_code == 200
    [row] = rt.search.handled(person(rt, "lanhdao.xa1")).rows
    assert row.code == decided and row.handled_at is not None and row.procedure_name.startswith("Đăng ký")
    over_http = api.get("/api/dossiers/handled", "chuyenvien3.xa1").json()
    assert [i["code"] for i in over_http["items"]] == [decided] and over_http["items"][0]["handled_at"]


def test_the_search_text_follows_the_applicants_data(api: Api) -> None:
    code = submitted(api, "Nguyễn Văn A")
    rt = api.runtime
    with transaction(rt.db) as conn:
        dossier_records.update_dossier(conn, code, applicant_name="Đỗ Thị Hoa", applicant_phone="0911222333")
    assert codes(rt, "chuyenvien1.xa1", "do thi hoa") == [code]
    assert codes(rt, "chuyenvien1.xa1", "0911222333") == [code]
    assert codes(rt, "chuyenvien1.xa1", "nguyen van a") == []


# ---------------------------------------------------------------------- the migration, on both databases


def _old_dossiers(db: sa.Engine) -> None:
    """Two dossiers written at revision 0007, before the search text existed."""
    at = dt.datetime(2026, 3, 2, 1, 0)
    procedure = sa.table(
        "procedure",
        *(sa.column(c) for c in ("code", "name", "process_key", "time_limit_days", "working_days", "data")),
    )
    columns = [
        "code",
        "procedure_code",
        "agency_code",
        "structure_version",
        "status",
        "applicant_name",
        "applicant_id_number",
        "applicant_phone",
        "channel",
        "received_at",
        "clock_start",
        "due_at",
        "paused_seconds",
        "received_by",
        "updated_at",
        "return_channel",
    ]
    dossier = sa.table("dossier", *(sa.column(c) for c in columns))
    common = {
        "procedure_code": "1.001612",
        "agency_code": COMMUNE,
        "structure_version": "2025",
        "status": "received",
        "channel": "counter",
        "received_at": at,
        "clock_start": at,
        "due_at": at + dt.timedelta(days=3),
        "paused_seconds": 0,
        "received_by": "tiepnhan.xa1",
        "updated_at": at,
        "return_channel": "counter",
    }
    with db.begin() as conn:
        conn.execute(
            sa.insert(procedure).values(
                code="1.001612",
                name="Đăng ký hộ kinh doanh",
                process_key="p",
                time_limit_days=3,
                working_days=True,
                data="{}",
            )
        )
        conn.execute(
            sa.insert(dossier),
            [
                common
                | {
                    "code": f"{COMMUNE}-260302-0001",
                    "applicant_name": "Nguyễn Văn A",
                    "applicant_id_number": "001090012345",
                    "applicant_phone": "+84912345678",
                },
                common
                | {
                    "code": f"{COMMUNE}-260302-0002",
                    "applicant_name": "Trần Thị Đào",
                    "applicant_id_number": "001190054321",
                    "applicant_phone": None,
                },
            ],
        )


def _migrated_and_found(db: sa.Engine) -> None:
    with db.connect() as conn:
        command.upgrade(_config(db, conn), "0007")
        conn.commit()
    _old_dossiers(db)
    upgrade(db)
    with db.connect() as conn:
        texts = {r.code: r.search_text for r in conn.execute(sa.text("SELECT code, search_text FROM dossier"))}
    assert texts == {
        f"{COMMUNE}-260302-0001": " nguyen van a 001090012345 84912345678 0912345678 000.00.31.h99-260302-0001 ",
        f"{COMMUNE}-260302-0002": " tran thi dao 001190054321 000.00.31.h99-260302-0002 ",
    }
    search = DossierSearch(db, lambda *a, **k: None)
    official = Person("cv", "Chuyên viên", Role.SPECIALIST, COMMUNE, f"{COMMUNE}-PKT")
    stranger = Person("cv2", "Chuyên viên", Role.SPECIALIST, OTHER_COMMUNE, None)
    assert [f.code for f in search.search(official, "DAO").rows] == [f"{COMMUNE}-260302-0002"]
    assert [f.code for f in search.search(official, "0912 345 678").rows] == [f"{COMMUNE}-260302-0001"]
    assert [f.code for f in search.search(official, "000.00.31.h99-260302-0001").rows] == [f"{COMMUNE}-260302-0001"]
    assert search.search(stranger, "nguyen").rows == ()
    assert search.handled(official).rows == ()


def _config(db: sa.Engine, conn: sa.Connection) -> Config:
    cfg = alembic_config(db.url.render_as_string(hide_password=False))
    cfg.attributes["connection"] = conn
    return cfg


def test_the_migration_fills_the_search_text_of_existing_dossiers_on_sqlite(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path}/old.sqlite3")
    try:
        _migrated_and_found(db)
    finally:
        db.dispose()


@pytest.fixture
def pg_engine(postgres_cluster: PostgresCluster) -> Iterator[sa.Engine]:
    url = postgres_cluster.fresh_database()
    db = make_engine(url)
    try:
        yield db
    finally:
        db.dispose()
        postgres_cluster.drop_database(url.rsplit("/", 1)[1])


def test_the_migration_and_the_queries_on_postgresql(pg_engine: sa.Engine) -> None:
    assert pg_engine.dialect.name == "postgresql"
    _migrated_and_found(pg_engine)
