"""``motcua storage check``: every document the database knows, verified against the store.

For each record: the object exists; on a versioned store the recorded version exists and is still the
latest (a newer version or a delete marker on top is reported: someone wrote to the key behind the
adapter's back); size, metadata hash and the SHA-256 of the content match the record (the content is read
in full through the verified stream). Each problem names the object, the document and what is wrong.

With ``orphans=True`` every object that no record references is listed too, with incomplete multipart
uploads where the store has them; ``clean=True`` removes those older than ``grace`` (a younger one may
belong to an upload whose database transaction has not committed yet). Signed results are never removed:
the adapters refuse (:class:`storage.errors.WriteOnceViolation`); they are listed as kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dossiers.errors import MotcuaError
from dossiers.ports import StoredObject
from storage.api import AUDIT_ANCHOR_KEY
from storage.errors import IntegrityError, ObjectMissing, StorageError, WriteOnceViolation


@dataclass(frozen=True)
class Record:
    """One database row that points at an object (``ref`` says which, e.g. document id and dossier)."""

    obj: StoredObject
    ref: str


@dataclass(frozen=True)
class Problem:
    kind: str  # missing | size | sha256 | newer_version | deleted | unreadable
    key: str
    ref: str
    detail: str

    def line(self) -> str:
        return f"{self.kind:<13} {self.key}  ({self.ref}): {self.detail}"


@dataclass(frozen=True)
class Orphan:
    key: str
    size: int | None
    last_modified: dt.datetime | None
    kind: str = "object"  # object | incomplete_upload
    upload_id: str | None = None
    write_once: bool = False


@dataclass
class Report:
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    removed: list[Orphan] = field(default_factory=list)
    kept: list[tuple[Orphan, str]] = field(default_factory=list)  # not removed, and why
    capabilities: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """No problem, and no orphan left but signed results (which no adapter will remove)."""
        removed = {(o.key, o.upload_id) for o in self.removed}
        left = [o for o in self.orphans if (o.key, o.upload_id) not in removed and not o.write_once]
        return not self.problems and not left


def check_record(store: Any, record: Record) -> list[Problem]:
    """Everything wrong with one record's object (empty: it is intact and current)."""
    obj, ref = record.obj, record.ref
    problems: list[Problem] = []

    def problem(kind: str, detail: str) -> None:
        problems.append(Problem(kind, obj.key, ref, detail))

    versions_of = getattr(store, "versions", None)
    if callable(versions_of):
        try:
            versions = versions_of(obj.key)
        except MotcuaError as exc:
            problem("unreadable", exc.message_en)
            return problems
        real = [v for v in versions if not v.is_delete_marker]
        recorded = obj.version_id
        if not real:
            problem("missing", "no object is stored under this key")
            return problems
        if recorded is not None and all(v.version_id != recorded for v in real):
            problem("missing", f"the recorded version {recorded} is not in the store")
            return problems
        latest = versions[0]
        if latest.is_delete_marker:
            problem("deleted", "a delete marker hides the object (the recorded version is still stored)")
        elif latest.version_id != recorded:
            newer = latest.version_id or "an unversioned write"
            problem("newer_version", f"version {newer} was written after the recorded {recorded or '(none)'}")
    try:
        stream = store.open(obj)
        with stream:
            for _ in stream:
                pass
    except ObjectMissing:
        problem("missing", "no object is stored under this key")
    except IntegrityError as exc:
        details = exc.details
        if "actual_size" in details:
            problem("size", f"{details.get('reason')}: recorded {obj.size} bytes, stored {details['actual_size']}")
        else:
            problem("sha256", f"{details.get('reason')}: recorded {obj.sha256}, found {details.get('actual_sha256')}")
    except StorageError as exc:
        problem("unreadable", exc.message_en)
    return problems


def find_orphans(store: Any, referenced: set[str]) -> list[Orphan]:
    orphans = [
        Orphan(key=i.key, size=i.size, last_modified=i.last_modified, write_once=i.write_once)
        for i in store.list_objects()
        if i.key not in referenced and not AUDIT_ANCHOR_KEY.fullmatch(i.key)  # the audit log's, not orphans
    ]
    incomplete = getattr(store, "incomplete_uploads", None)
    if callable(incomplete):
        orphans += [
            Orphan(key=u.key, size=None, last_modified=u.initiated, kind="incomplete_upload", upload_id=u.upload_id)
            for u in incomplete()
        ]
    return orphans


def check_store(
    store: Any,
    records: Iterable[Record],
    *,
    orphans: bool = False,
    clean: bool = False,
    grace: dt.timedelta = dt.timedelta(hours=1),
    now: dt.datetime | None = None,
) -> Report:
    report = Report()
    caps = getattr(store, "capabilities", None)
    if caps is not None:
        report.capabilities = dict(vars(caps))
    referenced: set[str] = set()
    for record in records:
        report.checked += 1
        referenced.add(record.obj.key)
        report.problems += check_record(store, record)
    if not (orphans or clean):
        return report
    report.orphans = find_orphans(store, referenced)
    if not clean:
        return report
    now = now or dt.datetime.now(dt.UTC)
    for orphan in report.orphans:
        if orphan.last_modified is not None and now - orphan.last_modified < grace:
            report.kept.append((orphan, "younger than the grace period"))
            continue
        try:
            if orphan.kind == "incomplete_upload":
                from storage.s3 import IncompleteUpload

                store.abort_upload(IncompleteUpload(orphan.key, orphan.upload_id or "", orphan.last_modified))
            else:
                store.delete(orphan.key)
        except WriteOnceViolation:
            report.kept.append((orphan, "signed result, write-once"))
            continue
        except ObjectMissing:
            pass  # gone meanwhile
        except MotcuaError as exc:
            report.kept.append((orphan, exc.message_en))
            continue
        report.removed.append(orphan)
    return report


def render(report: Report, *, orphans: bool, clean: bool) -> list[str]:
    """The lines ``motcua storage check`` prints."""
    lines = []
    if report.capabilities:
        caps = ", ".join(f"{k}={v}" for k, v in report.capabilities.items())
        lines.append(f"store: {caps}")
    for p in report.problems:
        lines.append(f"PROBLEM {p.line()}")
    if orphans or clean:
        removed = {(o.key, o.upload_id) for o in report.removed}
        reasons = {(o.key, o.upload_id): why for o, why in report.kept}
        for o in report.orphans:
            ident = (o.key, o.upload_id)
            what = "incomplete upload" if o.kind == "incomplete_upload" else f"{o.size} bytes"
            if ident in removed:
                status = "removed"
            elif ident in reasons:
                status = f"kept ({reasons[ident]})"
            elif o.write_once:
                status = "signed result: kept (write-once)"
            else:
                status = "not referenced by any document"
            lines.append(f"ORPHAN  {o.key}  [{what}] {status}")
    lines.append(
        f"checked {report.checked} document(s): {len(report.problems)} problem(s)"
        + (f", {len(report.orphans)} orphan(s)" if (orphans or clean) else "")
        + (f", {len(report.removed)} removed" if clean else "")
    )
    return lines
