"""The records of the one-stop shop: dossiers, their documents, the procedure catalogue they are handled under,
and the side effects recorded once per idempotency key (a retried worker step finds what it already did).

Every function works in the caller's connection (:func:`persistence.uow.transaction`): the use case decides what
commits together (a dossier row, its documents and their audit entries).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from dossiers.model import STOPPED_STATUSES
from dossiers.search_text import dossier_search_text
from persistence.schema import document, dossier, procedure, side_effect

# the reads every step of a dossier makes, built once (SQLAlchemy's compiled cache then finds them at once)
_PROCEDURE = select(procedure).where(procedure.c.code == bindparam("code"))
_DOSSIER = select(dossier).where(dossier.c.code == bindparam("code"))
_DOSSIER_FOR_UPDATE = _DOSSIER.with_for_update()
_DOCUMENTS_OF = select(document).where(document.c.dossier_code == bindparam("code")).order_by(document.c.created_at)

# ------------------------------------------------------------------ procedures (the catalogue)


def procedure_rows(conn: Connection) -> list[Any]:
    """Every procedure of the catalogue, by code."""
    return list(conn.execute(select(procedure).order_by(procedure.c.code)).all())


def find_procedure(conn: Connection, code: str) -> Any:
    """The procedure row ``code`` (None when the catalogue has none)."""
    return conn.execute(_PROCEDURE, {"code": code}).first()


# ------------------------------------------------------------------ dossiers


def insert_dossier(conn: Connection, **values: Any) -> None:
    """Register a new dossier row (its code allocated by :func:`persistence.counters.next_dossier_serial`), with
    the folded text it is found by (:func:`dossiers.search_text.dossier_search_text`)."""
    conn.execute(insert(dossier).values(**values, search_text=_search_text(values)))


SEARCHED_COLUMNS = ("code", "applicant_name", "applicant_id_number", "applicant_phone")


def _search_text(values: Mapping[str, Any]) -> str:
    return dossier_search_text(
        values["code"], values["applicant_name"], values["applicant_id_number"], values.get("applicant_phone")
    )


def find_dossier(conn: Connection, code: str) -> Any:
    """The dossier row ``code`` (None when there is none)."""
    return conn.execute(_DOSSIER, {"code": code}).first()


def record_text_limit(name: str) -> int:
    """The length of the dossier's text column ``name``: what a partner's record is bounded by before any insert."""
    column: Any = dossier.c[name]
    return int(column.type.length)


def find_dossiers(conn: Connection, codes: Sequence[str]) -> dict[str, Any]:
    """The dossier rows of ``codes`` by code, in one query per 500 codes (a task list reads them together)."""
    found: dict[str, Any] = {}
    unique = sorted(set(codes))
    for start in range(0, len(unique), 500):
        for row in conn.execute(select(dossier).where(dossier.c.code.in_(unique[start : start + 500]))):
            found[row.code] = row
    return found


def load_dossier(conn: Connection, code: str) -> Any:
    """The dossier row ``code``, which must exist (written earlier in this transaction)."""
    return conn.execute(_DOSSIER, {"code": code}).one()


def lock_dossier(conn: Connection, code: str) -> Any:
    """The dossier row ``code`` locked for a status change (``FOR UPDATE`` on PostgreSQL; on SQLite the
    transaction's ``BEGIN IMMEDIATE`` already holds the one writer lock). None when there is none."""
    query = _DOSSIER if conn.dialect.name == "sqlite" else _DOSSIER_FOR_UPDATE
    return conn.execute(query, {"code": code}).first()


def update_dossier(conn: Connection, code: str, **values: Any) -> None:
    """Set columns of the dossier row ``code``; a change of the applicant's data changes its search text too."""
    conn.execute(_dossier_update(conn, code, values))


def update_and_load_dossier(conn: Connection, code: str, **values: Any) -> Any:
    """:func:`update_dossier`, returning the row as it now is (one statement, ``RETURNING``: no second read);
    None when there is no dossier ``code``."""
    return conn.execute(_dossier_update(conn, code, values).returning(*dossier.c)).first()


def _dossier_update(conn: Connection, code: str, values: dict[str, Any]) -> Any:
    if any(name in values for name in SEARCHED_COLUMNS):
        columns = [dossier.c[name] for name in SEARCHED_COLUMNS]
        row = conn.execute(select(*columns).where(dossier.c.code == code)).first()
        if row is not None:
            values["search_text"] = _search_text(dict(row._mapping) | values)
    return update(dossier).where(dossier.c.code == code).values(**values)


def reception_queue(conn: Connection, agency_code: str, statuses: Sequence[str], limit: int) -> list[Any]:
    """Online dossiers of an agency not accepted yet, in ``statuses`` (waiting for reception, or sent back for
    papers before acceptance), the oldest first: the order reception checks them in."""
    return list(
        conn.execute(
            select(dossier)
            .where(
                dossier.c.agency_code == agency_code,
                dossier.c.status.in_(list(statuses)),
                dossier.c.accepted_at.is_(None),
            )
            .order_by(dossier.c.received_at, dossier.c.code)
            .limit(limit)
        ).all()
    )


def waiting_for_papers(conn: Connection, agency_code: str, status: str, limit: int) -> list[Any]:
    """Dossiers of an agency waiting for the applicant's supplementary papers (online or at the counter), the
    longest waiting first."""
    return list(
        conn.execute(
            select(dossier)
            .where(dossier.c.agency_code == agency_code, dossier.c.status == status)
            .order_by(dossier.c.updated_at, dossier.c.code)
            .limit(limit)
        ).all()
    )


def any_dossier(conn: Connection) -> bool:
    """Whether the installation holds any dossier (the first run's sample dossiers are made only when not)."""
    return conn.execute(select(dossier.c.code).limit(1)).first() is not None


def dossier_code_taken(conn: Connection, code: str) -> bool:
    """Whether a dossier already has ``code`` (one imported or written outside the counter)."""
    return conn.execute(select(dossier.c.code).where(dossier.c.code == code)).first() is not None


def lock_dossier_without_process(conn: Connection, code: str, *, skip_locked: bool) -> Any:
    """The dossier row ``code`` if its process has not been started, locked (``FOR UPDATE``, ``SKIP LOCKED`` when
    asked) so that two callers do not both start it; None when it has a process (or is locked and skipped)."""
    return conn.execute(
        select(dossier)
        .where(dossier.c.code == code, dossier.c.process_instance_id.is_(None))
        .with_for_update(skip_locked=skip_locked)
    ).first()


def set_process_instance(conn: Connection, code: str, instance_id: str) -> None:
    """Record the process instance started for the dossier."""
    conn.execute(update(dossier).where(dossier.c.code == code).values(process_instance_id=instance_id))


def codes_without_process(conn: Connection, limit: int) -> list[str]:
    """Codes of accepted dossiers whose process has not been started (the engine was unreachable), oldest first
    (an online dossier waiting for reception has no process on purpose; one stopped meanwhile needs none)."""
    return list(
        conn.execute(
            select(dossier.c.code)
            .where(
                dossier.c.process_instance_id.is_(None),
                dossier.c.accepted_at.is_not(None),
                dossier.c.status.not_in([s.value for s in STOPPED_STATUSES]),
            )
            .order_by(dossier.c.received_at)
            .limit(limit)
        ).scalars()
    )


def submitted_by(conn: Connection, username: str, limit: int) -> list[Any]:
    """The dossiers an account filed online (``submitted_by``), newest first."""
    return list(
        conn.execute(
            select(
                dossier.c.code,
                dossier.c.procedure_code,
                dossier.c.status,
                dossier.c.received_at,
                dossier.c.due_at,
                dossier.c.finished_at,
                dossier.c.accepted_at,
            )
            .where(dossier.c.submitted_by == username)
            .order_by(dossier.c.received_at.desc(), dossier.c.code.desc())
            .limit(limit)
        ).all()
    )


# ------------------------------------------------------------------ documents


def insert_document(conn: Connection, **values: Any) -> None:
    """Record a stored document of a dossier (its bytes are already in the document store)."""
    conn.execute(insert(document).values(**values))


def documents_of(conn: Connection, code: str) -> list[Any]:
    """Every document row of the dossier, oldest first."""
    return list(conn.execute(_DOCUMENTS_OF, {"code": code}).all())


def uploaded_documents(conn: Connection, code: str) -> list[Any]:
    """The dossier's documents that came from the applicant (kinds ``upload`` and ``supplement``)."""
    return list(
        conn.execute(
            select(document).where(document.c.dossier_code == code, document.c.kind.in_(("upload", "supplement")))
        ).all()
    )


def find_document(conn: Connection, code: str, doc_id: str) -> Any:
    """The document ``doc_id`` of dossier ``code`` (None when it is not one of the dossier's)."""
    return conn.execute(select(document).where(document.c.id == doc_id, document.c.dossier_code == code)).first()


def latest_document(conn: Connection, code: str, paper_key: str, kinds: Sequence[str]) -> Any:
    """The newest document row of the dossier for ``paper_key`` among ``kinds`` (None when there is none)."""
    return conn.execute(
        select(document)
        .where(document.c.dossier_code == code, document.c.paper_key == paper_key, document.c.kind.in_(kinds))
        .order_by(document.c.created_at.desc())
    ).first()


def document_by_id(conn: Connection, document_id: str) -> Any:
    """The document row ``document_id`` of any dossier (None when there is none)."""
    return conn.execute(select(document).where(document.c.id == document_id)).first()


def document_hashes(conn: Connection, dossier_code: str, document_ids: Sequence[str]) -> dict[str, str]:
    """The SHA-256 of each of ``document_ids`` that belongs to the dossier (the others are absent)."""
    rows = conn.execute(
        select(document.c.id, document.c.sha256).where(
            document.c.dossier_code == dossier_code, document.c.id.in_(list(document_ids))
        )
    ).all()
    return {r.id: r.sha256 for r in rows}


def document_id_for_key(conn: Connection, idempotency_key: str) -> str | None:
    """The id of the document issued under ``idempotency_key`` (None when none was)."""
    row = conn.execute(select(document.c.id).where(document.c.idempotency_key == idempotency_key)).first()
    return None if row is None else str(row.id)


def refile_document(conn: Connection, doc_id: str, storage_key: str, version_id: str | None) -> None:
    """Point the document at its bytes' new place in the store."""
    conn.execute(update(document).where(document.c.id == doc_id).values(storage_key=storage_key, version_id=version_id))


def set_document_paper(conn: Connection, doc_id: str, paper_key: str) -> None:
    """Name the paper the document stands for, unless it already names one."""
    conn.execute(
        update(document).where(document.c.id == doc_id, document.c.paper_key.is_(None)).values(paper_key=paper_key)
    )


def find_document_of_kinds(conn: Connection, code: str, doc_id: str, kinds: Sequence[str]) -> Any:
    """The document ``doc_id`` of dossier ``code`` if it is of one of ``kinds`` (None otherwise)."""
    return conn.execute(
        select(document).where(document.c.id == doc_id, document.c.dossier_code == code, document.c.kind.in_(kinds))
    ).first()


def newest_of_kinds(conn: Connection, code: str, kinds: Sequence[str]) -> Any:
    """``id``, ``filename``, ``kind`` and ``sha256`` of the dossier's newest document of one of ``kinds`` (None
    when it has none)."""
    return conn.execute(
        select(document.c.id, document.c.filename, document.c.kind, document.c.sha256)
        .where(document.c.dossier_code == code, document.c.kind.in_(kinds))
        .order_by(document.c.created_at.desc())
    ).first()


def every_document(conn: Connection, batch: int = 1000) -> Iterator[Any]:
    """Every document row, oldest first, streamed ``batch`` rows at a time (a server-side cursor on PostgreSQL): a
    province's store check holds one batch in memory, not millions of rows."""
    query = select(document).order_by(document.c.created_at, document.c.id)
    yield from conn.execution_options(yield_per=batch).execute(query)


# ------------------------------------------------------------------ side effects (idempotency keys)


def side_effect_result(conn: Connection, key: str) -> dict[str, Any] | None:
    """What the side effect recorded under ``key`` returned (None when it has not happened)."""
    found = conn.execute(select(side_effect.c.result).where(side_effect.c.key == key)).first()
    return None if found is None else dict(found.result)


def has_side_effect(conn: Connection, key: str) -> bool:
    """Whether a side effect is recorded under ``key``."""
    return conn.execute(select(side_effect.c.key).where(side_effect.c.key == key)).first() is not None


def insert_side_effect(conn: Connection, key: str, result: Mapping[str, Any], at: dt.datetime) -> None:
    """Record the side effect done under ``key`` and what it returned."""
    conn.execute(insert(side_effect).values(key=key, result=dict(result), created_at=at))
