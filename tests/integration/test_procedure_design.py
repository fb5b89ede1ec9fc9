"""The procedure designer's use cases (services/procedure_design.py): an administrator starts a procedure, saves its
four parts, has them checked (each broken part named precisely), publishes it into the agency's catalogue — the desk
offers it at once and a dossier runs through it to a sealed result —, publishes a second version while a dossier is
in flight (that dossier keeps its process definition and rule version), and is refused what would break other
procedures or the catalogue. Every change is in the audit log."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dossiers.clock import SimulatedClock
from dossiers.errors import Conflict, InvalidInput, MotcuaError
from motcua.app import Runtime, build_runtime
from motcua.settings import Settings
from services.procedure_design import ProcedureDesigner
from tests.conftest import MONDAY_MORNING, Api, PreparedStates, minimal_pdf
from tests.pdftools import pdftotext

pytestmark = pytest.mark.integration

CODE = "9.999001"
KEY = "p_9_999001"
ADMIN = "quantri"
SPECIALIST_KIND = "TPHT"  # the civil status department: the agency maps several departments to the specialist role


@pytest.fixture
def runtime(settings: Settings, prepared_states: PreparedStates, tmp_path: Path) -> Iterator[Runtime]:
    """The suite's prepared state (an empty agency catalogue adds nothing to it), run with a catalogue directory of
    the test's own: what the designer publishes goes there."""
    prepared_states.install(settings, tmp_path)
    own = tmp_path / "province" / "catalogue"
    own.mkdir(parents=True)
    rt = build_runtime(settings.model_copy(update={"catalogue_dir": own}), clock=SimulatedClock(MONDAY_MORNING))
    rt.engine.deploy()
    yield rt
    rt.close()


@contextlib.contextmanager
def _refused(kind: type[MotcuaError], words: str) -> Iterator[None]:
    """The call is refused with ``kind``, its Vietnamese message saying ``words``."""
    with pytest.raises(kind) as caught:
        yield
    assert words in caught.value.message_vi, caught.value.message_vi


def _today(rt: Runtime) -> dt.date:
    return rt.designer.today()


def _fixed_entry(entry: dict[str, Any], days: int = 5) -> dict[str, Any]:
    entry = json.loads(json.dumps(entry))
    entry["departments"] = {"specialist": [SPECIALIST_KIND]}
    entry["versions"][-1]["legal_source"] = "Quyết định của Chủ tịch Ủy ban nhân dân tỉnh (thử nghiệm)"
    entry["versions"][-1]["time_limit"] = {"days": days, "unit": "working_days"}
    return entry


def _authored(designer: ProcedureDesigner, code: str = CODE) -> None:
    """A procedure started from the shipped issued-document process, its entry completed: ready to publish."""
    draft = designer.new(code, "Xác nhận thử nghiệm của tỉnh", ADMIN, start_from="issued_document")
    designer.save(code, ADMIN, entry=_fixed_entry(draft.entry))


def _holder_of_review(api: Api, code: str) -> str:
    """The one specialist whose list shows the dossier: the entry's department kind at work."""
    people = ("chuyenvien1.xa1", "chuyenvien2.xa1", "tuphap.xa1")
    holders = [who for who in people if any(t["dossier_code"] == code for t in api.get("/api/tasks", who).json())]
    assert len(holders) == 1, (code, holders)
    return holders[0]


def _submitted(api: Api, name: str) -> str:
    r = api.submit(
        procedure=CODE,
        files={"paper.to_khai": ("to-khai.pdf", minimal_pdf("to khai"), "application/pdf")},
        applicant_name=name,
        details=json.dumps({"ho_ten": name}, ensure_ascii=False),
    )
    assert r.status_code == 201, r.text
    api.work()  # accept, receipt: the review task opens
    return str(r.json()["code"])


def _to_result(api: Api, code: str) -> None:
    assert api.decide(_holder_of_review(api, code), code, "approve", "Hồ sơ hợp lệ").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    assert api.decide("tiepnhan.xa1", code, None).status_code == 200
    api.work()


def test_a_new_procedure_is_checked_published_offered_and_runs_to_a_sealed_result(
    runtime: Runtime, tmp_path: Path
) -> None:
    designer = runtime.designer
    draft = designer.new(CODE, "Xác nhận thử nghiệm của tỉnh", ADMIN, start_from="issued_document")
    assert (draft.origin, draft.published, draft.bpmn_name) == ("new", False, f"{KEY}.bpmn")
    assert f'id="{KEY}"' in draft.bpmn_xml and 'id="issued_document"' not in draft.bpmn_xml
    assert CODE in {s.code for s in designer.summaries() if s.has_draft}
    with pytest.raises(Conflict):
        designer.new(CODE, "Lần nữa", ADMIN)
    with _refused(InvalidInput, "không đúng dạng mã"):
        designer.new("TT-01", "Mã sai", ADMIN)
    with _refused(Conflict, "đã có trong danh mục"):
        designer.new("1.000656", "Trùng mã thủ tục có sẵn", ADMIN)

    # each part broken: the leader's signing step given to the clerk, a form that accepts any field, a template
    # naming a field the form does not have — and the skeleton entry's empty legal basis
    broken_bpmn = re.sub(r'(id="sign_result"[^>]*candidateGroups=")leader"', r'\1clerk"', draft.bpmn_xml)
    assert broken_bpmn != draft.bpmn_xml
    broken_form = {k: v for k, v in (draft.form or {}).items() if k != "additionalProperties"}
    broken_template = dict(draft.result_template or {}) | {"title": "GIẤY XÁC NHẬN {khong_co_truong}"}
    saved = designer.save(CODE, ADMIN, bpmn_xml=broken_bpmn, form=broken_form, result_template=broken_template)
    assert saved.saved_by == ADMIN
    problems = designer.check(CODE)
    text = "\n".join(problems)
    assert "userTask) có id 'sign_result' giao cho nhóm 'leader'" in text, text
    assert "biểu mẫu không hợp lệ: form#/additionalProperties: phải ghi false: tờ khai chỉ có các trường đã nêu / " in (
        text
    )  # its wording: dossiers.form_schema, Vietnamese first
    assert "mẫu văn bản kết quả: dòng 7, trường /title:" in text and "khong_co_truong" in text, text
    assert "legal_source" in text, text
    with _refused(InvalidInput, "Chưa công bố được thủ tục"):
        designer.publish(CODE, ADMIN, _today(runtime))

    # fixed — but the agency maps several departments to the specialist role: procedures validate on the staged
    # catalogue says the entry must name which one
    designer.save(
        CODE,
        ADMIN,
        bpmn_xml=draft.bpmn_xml,
        form=draft.form,
        result_template=draft.result_template,
        entry={k: v for k, v in _fixed_entry(draft.entry).items() if k != "departments"},
    )
    staged = designer.check(CODE)
    assert staged and all("danh mục sau khi công bố không hợp lệ" in p for p in staged), staged
    shown = [p.rsplit(" / ", 1)[0] for p in staged]  # what the designer's page shows: the Vietnamese part
    assert any("hãy ghi loại phòng ban xử lý trong 'departments'" in p for p in shown), staged
    designer.save(CODE, ADMIN, entry=_fixed_entry(draft.entry))
    assert designer.check(CODE) == []

    publication = designer.publish(CODE, ADMIN, _today(runtime))
    assert publication.process_key == KEY and f"{KEY}:1" in publication.deployed
    assert designer.publications(CODE) == [publication]
    own = Path(str(runtime.settings.catalogue_dir))
    assert (own / f"{CODE}.json").is_file() and (own / f"{KEY}.bpmn").is_file()
    assert (own / "results" / f"{CODE}.json").is_file() and (own.parent / "forms" / f"{CODE}.json").is_file()
    assert runtime.catalogue_problems() == []
    summary = next(s for s in designer.summaries() if s.code == CODE)
    assert (summary.origin, summary.has_draft) == ("agency", False)  # the draft is gone, the procedure is there
    assert runtime.shop.procedure(CODE).name == "Xác nhận thử nghiệm của tỉnh"  # the desk offers it at once
    bundle = designer.export(CODE)
    assert bundle["bpmn"]["name"] == f"{KEY}.bpmn" and bundle["entry"]["code"] == CODE

    api = Api(runtime)
    code = _submitted(api, "Trần Thị Bình")
    _to_result(api, code)
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert view["status"] == "returned", view["status"]
    [result] = [d for d in view["documents"] if d["kind"] == "result"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{result['id']}", "tiepnhan.xa1").content
    text = " ".join(pdftotext(pdf, tmp_path).split())
    assert "TRẦN THỊ BÌNH" in text and "XÁC NHẬN THỬ NGHIỆM CỦA TỈNH" in text, text[:400]

    kinds = [e.event.kind for e in runtime.audit.all() if e.event.details.get("procedure_code") == CODE]
    assert kinds[:2] == ["procedure.draft_created", "procedure.draft_saved"], kinds
    assert "procedure.published" in kinds
    published = next(e.event for e in runtime.audit.all() if e.event.kind == "procedure.published")
    assert published.actor == ADMIN and published.details["bpmn_sha256"] == publication.bpmn_sha256


def test_a_second_version_leaves_the_dossier_in_flight_on_its_process_and_rules(runtime: Runtime) -> None:
    designer = runtime.designer
    _authored(designer)
    first_day = _today(runtime)
    designer.publish(CODE, ADMIN, first_day)
    api = Api(runtime)
    in_flight = _submitted(api, "Lê Văn Cường")

    draft = designer.draft(CODE)  # made from the published procedure: its version, then the draft version
    assert (draft.origin, draft.published) == ("agency", True)
    assert [v["valid_from"] for v in draft.entry["versions"]] == [first_day.isoformat(), "2026-03-03"]
    entry = json.loads(json.dumps(draft.entry))
    entry["versions"][-1]["time_limit"] = {"days": 10, "unit": "working_days"}
    changed = draft.bpmn_xml.replace('name="Thẩm định hồ sơ"', 'name="Thẩm định và xác minh hồ sơ"')
    assert changed != draft.bpmn_xml
    designer.save(CODE, ADMIN, entry=entry, bpmn_xml=changed)
    with _refused(InvalidInput, "Ngày hiệu lực"):  # not before the published version's start
        designer.publish(CODE, ADMIN, first_day)
    second = designer.publish(CODE, ADMIN, first_day + dt.timedelta(days=1))
    assert f"{KEY}:2" in second.deployed

    api.advance(days=1)
    fresh = _submitted(api, "Phạm Thị Dung")
    old_row, new_row = runtime.shop.dossier_row(in_flight), runtime.shop.dossier_row(fresh)
    assert old_row.rule_version == first_day.isoformat()
    assert new_row.rule_version == (first_day + dt.timedelta(days=1)).isoformat()
    assert runtime.shop.procedure_of(old_row).time_limit_days == 5
    assert runtime.shop.procedure_of(new_row).time_limit_days == 10
    old_xml = (runtime.engine.definition_xml(KEY, in_flight) or b"").decode("utf-8")
    new_xml = (runtime.engine.definition_xml(KEY, fresh) or b"").decode("utf-8")
    assert 'name="Thẩm định hồ sơ"' in old_xml and "Thẩm định và xác minh hồ sơ" not in old_xml
    assert "Thẩm định và xác minh hồ sơ" in new_xml

    _to_result(api, in_flight)  # the dossier in flight ends on the process it started with
    assert api.get(f"/api/dossiers/{in_flight}", "tiepnhan.xa1").json()["status"] == "returned"
    assert [p.valid_from for p in designer.publications(CODE)] == [first_day, first_day + dt.timedelta(days=1)]


class _EngineDown:
    def deploy(self) -> list[str]:
        raise ConnectionError("the engine is unreachable")


def test_what_would_break_other_procedures_or_the_catalogue_is_refused(runtime: Runtime) -> None:
    designer = runtime.designer
    # a shipped procedure on the process 21 others share: its process may not change under them
    shipped = designer.draft("1.000656")
    assert (shipped.origin, shipped.published, shipped.bpmn_name) == ("built_in", True, "issued_document.bpmn")
    designer.save("1.000656", ADMIN, bpmn_xml=shipped.bpmn_xml.replace("Thẩm định hồ sơ", "Xem xét hồ sơ"))
    [problem] = designer.check("1.000656")
    assert "được dùng chung" in problem and "'p_1_000656'" in problem, problem
    with _refused(InvalidInput, "được dùng chung"):
        designer.publish("1.000656", ADMIN, _today(runtime) + dt.timedelta(days=1))
    designer.discard("1.000656", ADMIN)

    # unchanged process, a new version of the shipped entry: it overrides the shipped one from the agency catalogue
    designer.save("1.000656", ADMIN, entry=designer.draft("1.000656").entry)
    designer.publish("1.000656", ADMIN, _today(runtime) + dt.timedelta(days=1))
    own = Path(str(runtime.settings.catalogue_dir))
    assert (own / "1.000656.json").is_file() and not list(own.glob("*.bpmn"))
    assert runtime.catalogue_problems() == []
    assert next(s for s in designer.summaries() if s.code == "1.000656").origin == "agency"

    _authored(designer)
    with _refused(InvalidInput, "Ngày hiệu lực"):  # a date in the past
        designer.publish(CODE, ADMIN, _today(runtime) - dt.timedelta(days=1))
    # the engine cannot deploy: the catalogue is put back as it was and the draft stays, to be published later
    down = ProcedureDesigner(runtime.db, runtime.clock, _EngineDown(), runtime.shop, designer.files, designer.topics)
    with pytest.raises(ConnectionError):
        down.publish(CODE, ADMIN, _today(runtime))
    written = [own / f"{CODE}.json", own / f"{KEY}.bpmn", own / "results" / f"{CODE}.json"]
    assert [p.exists() for p in written] == [False, False, False]
    assert (own / "1.000656.json").is_file()  # what was there before stays
    assert designer.draft(CODE).published is False and designer.check(CODE) == []

    no_dir = ProcedureDesigner(
        runtime.db,
        runtime.clock,
        runtime.engine,
        runtime.shop,
        dataclasses.replace(designer.files, catalogue_dir=None),
        designer.topics,
    )
    with _refused(InvalidInput, "MOTCUA_CATALOGUE_DIR"):
        no_dir.publish(CODE, ADMIN, _today(runtime))
    with _refused(InvalidInput, "MOTCUA_CATALOGUE_DIR"):
        no_dir.import_bundle(designer.export("1.000656"), ADMIN)

    foreign = designer.export("1.000656") | {"format": "other/1"}
    with _refused(InvalidInput, "định dạng phải là motcua-procedure/1"):
        designer.import_bundle(foreign, ADMIN)
    # a bundle shared by another province: into a draft, then checked like any other
    shared = designer.export("1.000656")
    entry = shared["entry"] | {"code": "9.999002", "form": "forms/9.999002.json"}
    entry |= {"result": {"template": "9.999002.json"}}
    imported = designer.import_bundle(shared | {"code": "9.999002", "entry": entry}, ADMIN)
    assert (imported.origin, imported.published) == ("import", False)
    assert designer.check("9.999002") == []

    kinds = {e.event.kind for e in runtime.audit.all()}
    assert {"procedure.draft_discarded", "procedure.imported", "procedure.published"} <= kinds
    assert designer.preview_result("9.999002", imported.result_template, imported.form).startswith(b"%PDF")
    with _refused(InvalidInput, "trường /title"):
        designer.preview_result("9.999002", dict(imported.result_template or {}) | {"title": "{khong_co}"}, None)


@pytest.mark.parametrize("engine_kind", ["operaton"], indirect=True)
def test_publishing_deploys_on_operaton(runtime: Runtime, engine_kind: str) -> None:
    designer = runtime.designer
    _authored(designer)
    publication = designer.publish(CODE, ADMIN, _today(runtime))
    assert any(d.startswith(f"{KEY}:1") for d in publication.deployed), publication.deployed
    api = Api(runtime)
    code = _submitted(api, "Võ Văn Em")
    assert _holder_of_review(api, code)
    xml = (runtime.engine.definition_xml(KEY, code) or b"").decode("utf-8")
    assert f'id="{KEY}"' in xml


def test_a_review_leading_straight_to_the_result_is_reported_before_publishing(runtime: Runtime) -> None:
    """The desk would stop the specialist (no signing certificate) and have no approving leader to sign for."""
    designer = runtime.designer
    _authored(designer)
    assert designer.check(CODE) == []
    xml = designer.draft(CODE).bpmn_xml
    skipped = xml.replace(
        'sourceRef="decision_gateway" targetRef="approve"', 'sourceRef="decision_gateway" targetRef="prepare_result"'
    )
    assert skipped != xml
    designer.save(CODE, ADMIN, bpmn_xml=skipped)
    problems = designer.check(CODE)
    [problem] = [p for p in problems if "dẫn thẳng tới việc lập và ký văn bản kết quả" in p]
    assert problem.startswith("bước 'Thẩm định hồ sơ' (mã bước 'review', vai trò Chuyên viên)"), problem
    assert "'Lãnh đạo phê duyệt'" in problem and "'Lập văn bản kết quả'" in problem, problem
    with _refused(InvalidInput, "(mã bước 'review', vai trò Chuyên viên)"):
        designer.publish(CODE, ADMIN, _today(runtime))
    assert not (Path(str(runtime.settings.catalogue_dir)) / f"{CODE}.json").exists()
