"""The procedure designer (issue 18, point 5): an agency's administrator authors a procedure's four parts — the
catalogue entry, the application form (JSON Schema), the result template and the BPMN process — as a draft, checks
it, previews the form and the result, and publishes it as a new dated version; a procedure travels between
provinces as one file (``motcua-procedure/1``).

Drafts live in the database (:mod:`persistence.procedure_drafts`), so every API process sees the same one. A
draft's ``entry`` is the catalogue entry as written; its ``versions`` are the published ones followed by the draft
version, LAST. Publishing dates the draft version (``valid_from``: today or later, after the last published
version's, which then ends the day before), writes the four files into the agency's catalogue
(``MOTCUA_CATALOGUE_DIR``: the entry and the BPMN file in it, the template in its ``results/``, the form in
``forms/`` beside it), atomically file by file once everything is checked, deploys the process on the configured
engine and stores the procedure row so the desk offers it at once.

What stays as it was: a dossier in flight keeps the process definition it started on (the engines keep each
instance on its version; a changed file deploys as a new one) and the rule version recorded at intake.

Built-in procedures: a published version of a shipped procedure goes to the agency's catalogue and OVERRIDES the
shipped entry of the same code (:func:`services.catalogue.read_catalogue` reads the agency's directory after the
shipped one; the same code twice in one directory stays an error). Its process may not change under other
procedures: a BPMN process used by another procedure, or shipped with Motcua (``workflows/bpmn``), is published only
unchanged; a changed one is refused with the advice to give the process its own id (``p_<code>``:
:func:`own_process_id`). Nothing renames it silently: the administrator decides.

:func:`export_bundle` and :func:`import_into_catalogue` are the file side (``motcua procedures export/import``,
through the thin wrappers in :mod:`motcua.procedure_bundles`): an import is checked whole — its shape, its process
against the installation's, the whole catalogue as it would be (``procedures validate`` on a staged copy) — before
anything is written.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from documents.result_templates import check_template_text, parse_template
from documents.result_templates import preview as render_preview
from dossiers.catalogue import check_entry
from dossiers.errors import Conflict, InvalidInput, NotFound
from dossiers.form_schema import parse as parse_form
from dossiers.model import FormSchema
from dossiers.ports import Clock, Engine
from dossiers.problems import english, vietnamese
from persistence import procedure_drafts, reference_data
from persistence.uow import Database, transaction
from services.catalogue import BUILT_IN, Problem, catalogue_dirs, read_catalogue
from services.shop import OneStopShop
from workflows.introspect import BPMN_NS, CAMUNDA_NS, process_ids, read_activity_attributes, user_tasks_after
from workflows.lint import lint_bpmn

FORMAT = "motcua-procedure/1"
CODE = re.compile(r"[1-9]\.\d{6}")
"""A procedure code as the national database writes it (``1.001193``, ``2.000575``); an agency's own procedure takes
a code of the same shape (``9.999001``)."""
ORIGINS = ("built_in", "agency", "new", "import")
ROLES: tuple[tuple[str, str], ...] = (
    ("reception", "Bộ phận Một cửa (tiếp nhận, trả kết quả)"),
    ("specialist", "Chuyên viên"),
    ("leader", "Lãnh đạo"),
    ("clerk", "Văn thư"),
)
PREPARE_TOPIC, SEAL_TOPIC = "result.prepare", "result.seal"
SIGN_ACTIVITY, REGISTER_ACTIVITY, RETURN_ACTIVITY = "sign_result", "register_number", "return_result"
NO_CATALOGUE_DIR = (
    "Chưa cấu hình thư mục danh mục của cơ quan (MOTCUA_CATALOGUE_DIR): thủ tục nhập vào được lưu ở đó.",
    "MOTCUA_CATALOGUE_DIR is not set: imported procedures are kept there.",
)
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"


# ---------------------------------------------------------------------------------------------- what it returns


@dataclass(frozen=True)
class ProcedureDraft:
    code: str
    entry: dict[str, Any]  # the catalogue entry as written; versions = the published ones + the draft version LAST
    form: dict[str, Any] | None  # the JSON Schema of the application form
    result_template: dict[str, Any] | None
    bpmn_name: str  # file name, e.g. "p_9_999001.bpmn"
    bpmn_xml: str
    origin: str  # "built_in" | "agency" | "new" | "import"  (where the draft started)
    published: bool  # a published procedure with this code exists
    saved_by: str | None
    saved_at: dt.datetime | None


@dataclass(frozen=True)
class DesignSummary:
    """One row of the designer's list."""

    code: str
    name: str
    origin: str  # "built_in" | "agency"
    has_draft: bool
    process_key: str


@dataclass(frozen=True)
class Palette:
    """What the modeler's side panel offers."""

    roles: tuple[tuple[str, str], ...]  # (candidate group, Vietnamese label)
    topics: tuple[str, ...]  # every external-task topic a worker handles


@dataclass(frozen=True)
class Publication:
    code: str
    valid_from: dt.date
    published_by: str
    published_at: dt.datetime
    process_key: str
    deployed: tuple[str, ...]  # engine definition ids deployed
    bpmn_sha256: str


@dataclass(frozen=True)
class CatalogueFiles:
    """Where an installation's catalogue is (the composition root knows; services do not read settings):
    ``catalogue_dir`` the agency's own (MOTCUA_CATALOGUE_DIR, None when unset), ``bpmn_dirs`` the shipped BPMN
    directory then the agency's, ``template_dirs`` the agency's result templates then the shipped ones, ``check``
    everything ``procedures validate`` reports for a catalogue directory (used on a staged copy)."""

    catalogue_dir: Path | None
    bpmn_dirs: Sequence[Path]
    template_dirs: Sequence[Path]
    check: Callable[[Path], list[Problem]] = field(default=lambda _dir: [])

    def own(self) -> Path:
        if not self.catalogue_dir:
            raise InvalidInput(*NO_CATALOGUE_DIR)
        return Path(self.catalogue_dir)

    def entries(self) -> list[tuple[Path, dict[str, Any], Any]]:
        return read_catalogue(catalogue_dirs(self.catalogue_dir))[0]

    def bpmn_files(self) -> dict[str, Path]:
        """Process id → the BPMN file defining it, the agency's own after the shipped ones."""
        index: dict[str, Path] = {}
        for directory in self.bpmn_dirs:
            for path in sorted(Path(directory).glob("*.bpmn")) if Path(directory).is_dir() else []:
                for pid in process_ids(path.read_bytes()):
                    index[pid] = path
        return index

    def template_path(self, name: str) -> Path | None:
        return next((Path(d) / name for d in self.template_dirs if (Path(d) / name).is_file()), None)


# ---------------------------------------------------------------------------------------------- small pure helpers


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def own_process_id(code: str) -> str:
    """The process id a procedure's own process takes: ``9.999001`` → ``p_9_999001``."""
    return "p_" + re.sub(r"[^A-Za-z0-9_]", "_", code)


def _problem(vi: str, en: str) -> str:
    return f"{vi} / {en}"


def _json_text(data: Any) -> str:
    """How a part is written to its file (and so which line a template problem names)."""
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def dated(entry: Mapping[str, Any], valid_from: dt.date) -> dict[str, Any]:
    """The entry with its draft version (the last) starting on ``valid_from`` and the version before it ending the
    day before (when it was open or ran past it)."""
    out = copy.deepcopy(dict(entry))
    versions = out.get("versions")
    if not isinstance(versions, list) or not versions or not isinstance(versions[-1], dict):
        return out
    versions[-1]["valid_from"] = valid_from.isoformat()
    versions[-1].pop("valid_to", None)
    if len(versions) > 1 and isinstance(versions[-2], dict):
        ends = _day(versions[-2].get("valid_to")) if versions[-2].get("valid_to") else None
        if ends is None or ends >= valid_from:
            versions[-2]["valid_to"] = (valid_from - dt.timedelta(days=1)).isoformat()
    return out


def renamed_process(xml: str, new_id: str, name: str | None = None) -> str:
    """A copy of a BPMN file's one executable process under ``new_id`` (its diagram plane follows; the
    definitions' and messages' ids get the new id as prefix so two files never share an id)."""
    root = etree.fromstring(xml.encode("utf-8"))
    processes = [p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("isExecutable") == "true"]
    if len(processes) != 1:
        raise InvalidInput(
            "Tệp BPMN mẫu phải có đúng một quy trình thực thi được.",
            "The BPMN file to copy must hold exactly one executable process.",
        )
    old = processes[0].get("id", "")
    processes[0].set("id", new_id)
    if name:
        processes[0].set("name", name)
    root.set("id", f"defs_{new_id}")
    renames = {old: new_id}
    for message in root.iter(f"{{{BPMN_NS}}}message"):
        mid = message.get("id", "")
        renames[mid] = f"{new_id}_{mid}"
        message.set("id", renames[mid])
    for element in root.iter():
        for attr in ("bpmnElement", "messageRef"):
            value = element.get(attr)
            if value in renames:
                element.set(attr, renames[value])
    text: str = etree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


def skeleton_bpmn(process_id: str, name: str) -> str:
    """A process with one start event and its diagram: where the modeler starts."""
    safe = name.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN_NS}"
                  xmlns:bpmndi="{BPMNDI_NS}"
                  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
                  xmlns:camunda="{CAMUNDA_NS}"
                  id="defs_{process_id}" targetNamespace="https://motcua.example/bpmn">
  <bpmn:process id="{process_id}" name="{safe}" isExecutable="true" camunda:historyTimeToLive="P3650D">
    <bpmn:startEvent id="received" name="Bộ phận Một cửa tiếp nhận hồ sơ" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_{process_id}">
    <bpmndi:BPMNPlane id="plane_{process_id}" bpmnElement="{process_id}">
      <bpmndi:BPMNShape id="received_di" bpmnElement="received">
        <dc:Bounds x="152" y="102" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def skeleton_entry(code: str, name: str, process_key: str, today: dt.date) -> dict[str, Any]:
    """A catalogue entry to start from: one version valid from today, one paper (the application form)."""
    return {
        "code": code,
        "name": name,
        "field": "Khác",
        "process_key": process_key,
        "result": {"template": f"{code}.json"},
        "online_level": "partial",
        "channels": ["counter", "online"],
        "form": f"forms/{code}.json",
        "versions": [
            {
                "valid_from": today.isoformat(),
                "levels": ["commune"],
                "time_limit": {"days": 5, "unit": "working_days"},
                "fee_vnd": 0,
                "legal_source": "",
                "papers": [
                    {"key": "to_khai", "name": "Tờ khai theo mẫu", "form": "original", "count": 1, "mandatory": True}
                ],
            }
        ],
    }


def skeleton_form(code: str, name: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://motcua.example/forms/{code}.json",
        "title": name,
        "x-label": {"vi": "Tờ khai", "en": "Application form"},
        "type": "object",
        "properties": {
            "ho_ten": {
                "x-label": {"vi": "Họ, chữ đệm và tên người yêu cầu", "en": "Applicant's full name"},
                "x-order": 10,
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
            }
        },
        "required": ["ho_ten"],
        "additionalProperties": False,
    }


def skeleton_template(code: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "source": "Bản nháp tạo trong trình thiết kế thủ tục; thể thức theo Nghị định 30/2020/NĐ-CP.",
        "header": {"agency": "{agency_name}"},
        "title": name.upper(),
        "paragraphs": [
            {"text": "Người yêu cầu: <b>{ho_ten:upper}</b>."},
            {"text": "Mã hồ sơ: {dossier_code}.", "numbered": False},
        ],
        "signers": [
            {
                "authority": "TM.",
                "body": "ỦY BAN NHÂN DÂN",
                "position": "CHỦ TỊCH",
                "name": "{signer_name}",
                "signs": "leader",
            }
        ],
        "register": {"series": f"KQ-{code}", "number": "{serial}/{series}", "date": "{place_name}, {long_date}"},
        "document": {
            "filename": "van-ban-ket-qua",
            "sign_reason": name,
            "seal_reason": "Đóng dấu cơ quan",
            "seal": True,
        },
        "sample": {"ho_ten": "Nguyễn Văn An"},
    }


def desk_steps(xml: bytes, has_result: bool) -> list[str]:
    """What the desk relies on in a process (Vietnamese first): the result steps (``result.prepare`` →
    the leader's user task ``sign_result``, which the personal signature completes (services.signatures,
    services.tasks); ``result.seal`` after the clerk's ``register_number``, which the clerk's numbering page reads
    (api/web/officials.py, services.result_drafts)), the hand-over ``return_result`` of the reception desk (the fee
    is checked there: services.fees), and a result template only where the process prepares a result."""
    tasks = read_activity_attributes(xml)
    topics = {a.topic for a in tasks.values() if a.kind == "serviceTask"}
    users = {tid: a for tid, a in tasks.items() if a.kind == "userTask"}
    found = []

    def need(activity: str, group: str, why_vi: str, why_en: str) -> None:
        task = users.get(activity)
        if task is None or group not in task.candidate_groups:
            found.append(
                _problem(
                    f"quy trình dùng {why_vi} nên cần bước người dùng (userTask) có id '{activity}' giao cho nhóm "
                    f"'{group}'",
                    f"the process uses {why_en}, so it needs a user task with id '{activity}' for group '{group}'",
                )
            )

    if PREPARE_TOPIC in topics:
        need(
            SIGN_ACTIVITY,
            "leader",
            f"'{PREPARE_TOPIC}' (lãnh đạo ký số văn bản kết quả trên thiết bị của mình)",
            f"'{PREPARE_TOPIC}' (the leader signs the result on their own device)",
        )
        if SEAL_TOPIC not in topics:
            found.append(
                _problem(
                    f"có bước '{PREPARE_TOPIC}' nhưng không có bước '{SEAL_TOPIC}' (vào sổ, đóng dấu)",
                    f"'{PREPARE_TOPIC}' without '{SEAL_TOPIC}' (numbering and sealing)",
                )
            )
    if SEAL_TOPIC in topics:
        need(
            REGISTER_ACTIVITY,
            "clerk",
            f"'{SEAL_TOPIC}' (văn thư vào sổ, ghi số và ngày trước khi đóng dấu)",
            f"'{SEAL_TOPIC}' (the clerk registers the number and date before the seal)",
        )
        if PREPARE_TOPIC not in topics:
            found.append(
                _problem(
                    f"có bước '{SEAL_TOPIC}' nhưng không có bước '{PREPARE_TOPIC}' (lập văn bản kết quả)",
                    f"'{SEAL_TOPIC}' without '{PREPARE_TOPIC}' (preparing the result)",
                )
            )
        need(
            RETURN_ACTIVITY,
            "reception",
            "văn bản kết quả (Bộ phận Một cửa trả kết quả, thu phí, lệ phí tại bước này)",
            "a result document (the desk hands it over and checks the fee at that step)",
        )
    if has_result and PREPARE_TOPIC not in topics:
        found.append(
            _problem(
                f"mục danh mục có văn bản kết quả (result) nhưng quy trình không có bước '{PREPARE_TOPIC}'",
                f"the entry names a result but the process has no '{PREPARE_TOPIC}' step",
            )
        )
    if not has_result and PREPARE_TOPIC in topics:
        found.append(
            _problem(
                f"quy trình có bước '{PREPARE_TOPIC}' nhưng mục danh mục không có văn bản kết quả (result)",
                f"the process has a '{PREPARE_TOPIC}' step but the entry names no result",
            )
        )
    return found


APPROVE_ACTIVITY = "approve"


def approval_before_signature(xml: bytes) -> list[str]:
    """The step right before the leader's signature must be the leader's approval ``approve``, as the desk has it:
    whoever completes a user task whose next user task can be ``sign_result`` must hold a valid signing certificate
    (services.tasks: ``signature_follows`` → ``certificates.require_valid``), and ``result.prepare`` prepares the
    signature of the one who completed ``approve`` (process variable ``approve_by``: services.paperwork
    ``approving_leader``) — with no such step the result cannot be prepared. A specialist's review leading straight
    to the result would stop the specialist (no certificate) and leave no one to sign."""
    tasks = read_activity_attributes(xml)
    users = {tid: a for tid, a in tasks.items() if a.kind == "userTask"}
    prepares = any(a.kind == "serviceTask" and a.topic == PREPARE_TOPIC for a in tasks.values())
    if SIGN_ACTIVITY not in users or not prepares:
        return []  # desk_steps says what is missing
    leading = [tid for tid in sorted(users) if SIGN_ACTIVITY in user_tasks_after(xml, tid, {})]
    advice_vi = (
        "trước bước 'Lập văn bản kết quả' phải là bước 'Lãnh đạo phê duyệt' (mã bước 'approve', vai trò Lãnh đạo): "
        "người phê duyệt là người ký văn bản kết quả và phải có chứng thư số"
    )
    labels = dict(ROLES)
    advice_en = (
        "a leader's approval step ('approve', candidate group 'leader') must come right before 'result.prepare': "
        "the one who approves signs the result and must hold a signing certificate"
    )
    found = []
    for tid in leading:
        task = users[tid]
        if tid == APPROVE_ACTIVITY and "leader" in task.candidate_groups:
            continue
        roles = ", ".join(labels.get(g, g) for g in task.candidate_groups) or "chưa chọn"
        found.append(
            _problem(
                f"bước '{task.name or tid}' (mã bước '{tid}', vai trò {roles}) dẫn thẳng tới việc lập và ký văn bản "
                f"kết quả nên người hoàn thành bước này bị yêu cầu có chứng thư số và không có người phê duyệt để ký; "
                f"{advice_vi}",
                f"step '{tid}' leads straight to the result and its signature: {advice_en}",
            )
        )
    if not leading:
        found.append(
            _problem(f"không có bước nào do cán bộ thực hiện dẫn tới chữ ký văn bản kết quả; {advice_vi}", advice_en)
        )
    return found


# ---------------------------------------------------------------------------------------------- export / import


def export_bundle(files: CatalogueFiles, code: str, now: dt.datetime) -> dict[str, Any]:
    """The published procedure ``code`` as one JSON-ready document: its entry as written, form, template, process."""
    found = next(((path, entry) for path, _, entry in files.entries() if entry.code == code), None)
    if found is None:
        raise NotFound(f"Không có thủ tục mã {code}.", f"No procedure {code}.", code=code)
    path, entry = found
    raw = json.loads(path.read_text(encoding="utf-8"))
    template = None
    if entry.result is not None and entry.result.template:
        template_path = files.template_path(entry.result.template)
        template = json.loads(template_path.read_text(encoding="utf-8")) if template_path else None
    bpmn_path = files.bpmn_files().get(entry.process_key)
    bpmn = None
    if bpmn_path is not None:
        xml = bpmn_path.read_text(encoding="utf-8")
        bpmn = {"name": bpmn_path.name, "xml": xml, "sha256": sha256(xml)}
    return {
        "format": FORMAT,
        "code": entry.code,
        "exported_at": now.isoformat(timespec="seconds"),
        "entry": raw,
        "form": dict(entry.form.schema) if entry.form is not None else None,
        "result_template": template,
        "bpmn": bpmn,
    }


def refusal(
    problems: list[str], vi: str = "Không nhập được thủ tục", en: str = "The procedure cannot be imported"
) -> InvalidInput:
    listing = "\n".join(f"  - {p}" for p in problems)
    listing_vi = "\n".join(f"  - {vietnamese(p)}" for p in problems)  # a problem is "Vietnamese / English"
    return InvalidInput(
        f"{vi} ({len(problems)} lỗi):\n{listing_vi}",
        f"{en} ({len(problems)} problems):\n{listing}",
        problems=problems,
    )


def bundle_shape(bundle: Any) -> list[str]:
    """What a bundle must be before its parts are looked at (one message per missing or mistyped part)."""
    if not isinstance(bundle, Mapping):
        return ["tệp không phải một đối tượng JSON / the file is not a JSON object"]
    problems = []
    if bundle.get("format") != FORMAT:
        problems.append(f"định dạng phải là {FORMAT} / format must be {FORMAT} (found {bundle.get('format')!r})")
    entry = bundle.get("entry")
    if not isinstance(entry, Mapping) or not isinstance(entry.get("code"), str):
        problems.append("thiếu mục danh mục (entry) có mã thủ tục / entry with a code is missing")
    elif entry.get("code") != bundle.get("code"):
        problems.append(f"mã thủ tục {bundle.get('code')!r} khác mã trong entry {entry.get('code')!r} / code mismatch")
    for key in ("form", "result_template"):
        if bundle.get(key) is not None and not isinstance(bundle.get(key), Mapping):
            problems.append(f"{key} phải là đối tượng JSON / {key} must be a JSON object")
    bpmn = bundle.get("bpmn")
    if not isinstance(bpmn, Mapping) or not isinstance(bpmn.get("xml"), str) or not isinstance(bpmn.get("name"), str):
        problems.append("thiếu quy trình BPMN (bpmn.name, bpmn.xml) / the BPMN process is missing")
    elif not bpmn["name"].endswith(".bpmn") or Path(bpmn["name"]).name != bpmn["name"]:
        problems.append(f"tên tệp BPMN không hợp lệ: {bpmn['name']!r} / invalid BPMN file name")
    return problems


def _files_of(bundle: Mapping[str, Any], own: Path) -> tuple[dict[Path, str], list[str]]:
    """Where each part goes in the agency's catalogue, relative to its directory's parent, and what stops it."""
    entry = bundle["entry"]
    code = entry["code"]
    files = {Path(own.name) / f"{code}.json": _json_text(entry)}
    problems = []
    form_ref = entry.get("form")
    if isinstance(form_ref, str):
        if bundle.get("form") is None:
            problems.append(f"entry names the form {form_ref} but the bundle has none / thiếu biểu mẫu")
        elif Path(form_ref).parts[:1] != ("forms",) or ".." in Path(form_ref).parts:
            problems.append(f"biểu mẫu phải nằm trong forms/: {form_ref} / the form must be under forms/")
        else:
            files[Path(form_ref)] = _json_text(bundle["form"])
    result = entry.get("result")
    template_ref = result.get("template") if isinstance(result, Mapping) else None
    if isinstance(template_ref, str):
        if bundle.get("result_template") is None or Path(template_ref).name != template_ref:
            problems.append(f"thiếu mẫu văn bản kết quả {template_ref} / the result template is missing")
        else:
            files[Path(own.name) / "results" / template_ref] = _json_text(bundle["result_template"])
    return files, problems


def _process_problems(files: CatalogueFiles, bundle: Mapping[str, Any], own: Path, replace: bool) -> list[str]:
    """The bundle's process against the installation's: a process id that already exists with other content is
    refused (it would change every procedure sharing it), unless it is the agency's own file and ``replace``."""
    xml = bundle["bpmn"]["xml"]
    try:
        pids = process_ids(xml.encode("utf-8"))
    except etree.XMLSyntaxError as exc:
        return [_problem(f"tệp BPMN không đọc được: {exc}", "the BPMN file is not readable XML")]
    problems = []
    key = bundle["entry"].get("process_key")
    if key not in pids:
        problems.append(f"tệp BPMN không định nghĩa quy trình {key!r} / the BPMN file does not define {key!r}")
    existing = files.bpmn_files()
    for pid in pids:
        current = existing.get(pid)
        if current is None or current.read_text(encoding="utf-8") == xml:
            continue
        if current.parent != own or not replace:
            problems.append(
                f"quy trình {pid} đã có với nội dung khác ({current.name}); đổi mã quy trình để nhập quy trình mới "
                f"/ process {pid} already exists with other content"
            )
    return problems


def _bpmn_target(files: CatalogueFiles, bundle: Mapping[str, Any], own: Path) -> Path | None:
    """Where the bundle's BPMN goes (relative to the catalogue's parent), None when an identical file is there."""
    xml = bundle["bpmn"]["xml"]
    existing = files.bpmn_files()
    pids = process_ids(xml.encode("utf-8"))
    if any(existing.get(pid) and existing[pid].read_text(encoding="utf-8") == xml for pid in pids):
        return None
    current = next((existing[p] for p in pids if p in existing and existing[p].parent == own), None)
    return Path(own.name) / (current.name if current is not None else bundle["bpmn"]["name"])


def staged_problems(files: CatalogueFiles, own: Path, written: Mapping[Path, str]) -> list[str]:
    """``procedures validate`` on a copy of the agency's catalogue with ``written`` in it (paths relative to the
    catalogue's parent); the problems name the real paths."""
    with tempfile.TemporaryDirectory(prefix="motcua-stage-") as tmp:
        staged = Path(tmp)
        if own.is_dir():
            shutil.copytree(own, staged / own.name)
        if (own.parent / "forms").is_dir():
            shutil.copytree(own.parent / "forms", staged / "forms")
        for rel, text in written.items():
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            (staged / rel).write_text(text, encoding="utf-8")
        (staged / own.name).mkdir(exist_ok=True)
        found = files.check(staged / own.name)
        return [str(p).replace(str(staged), str(own.parent)) for p in found]


def write_atomically(root: Path, written: Mapping[Path, str]) -> list[Path]:
    """Each file through a temporary name and a rename: a reader sees the old file or the new one."""
    paths = []
    for rel, text in written.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.writing")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
        paths.append(target)
    return paths


def _text_of(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def restore(root: Path, before: Mapping[Path, str | None]) -> None:
    """Put back what :func:`write_atomically` replaced (a file that was not there is removed)."""
    for rel, text in before.items():
        if text is None:
            (root / rel).unlink(missing_ok=True)
        else:
            write_atomically(root, {rel: text})


def import_into_catalogue(files: CatalogueFiles, bundle: Any, *, replace: bool = False) -> list[Path]:
    """Put a bundle's procedure into the agency's catalogue; every check first, then the files (their paths)."""
    problems = bundle_shape(bundle)
    if problems:
        raise refusal(problems)
    own = files.own()
    code = bundle["code"]
    written, problems = _files_of(bundle, own)
    if (own / f"{code}.json").exists() and not replace:
        problems.append(f"thủ tục {code} đã có trong danh mục của cơ quan (dùng --replace để thay) / already there")
    problems += _process_problems(files, bundle, own, replace)
    if problems:
        raise refusal(problems)
    target = _bpmn_target(files, bundle, own)
    if target is not None:
        written[target] = bundle["bpmn"]["xml"]
    found = staged_problems(files, own, written)
    if found:
        raise refusal(found)
    return write_atomically(own.parent, written)


# ---------------------------------------------------------------------------------------------- the designer


class ProcedureDesigner:
    """The designer's use cases. ``topics``: every external-task topic a worker handles (the composition root
    knows the handlers); ``record``: the audit (the desk core's)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        engine: Engine,
        shop: OneStopShop,
        files: CatalogueFiles,
        topics: Sequence[str] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.engine = engine
        self.shop = shop
        self.files = files
        self.topics = tuple(sorted(set(topics)))

    # ------------------------------------------------------------------ reading

    def today(self) -> dt.date:
        return self.clock.now().astimezone(self.shop.calendar_tz()).date()

    def _published(self) -> dict[str, tuple[Path, dict[str, Any], Any]]:
        return {entry.code: (path, data, entry) for path, data, entry in self.files.entries()}

    def _origin_of(self, path: Path) -> str:
        return "built_in" if path.parent == BUILT_IN else "agency"

    def summaries(self) -> list[DesignSummary]:
        """Every published procedure (origin "built_in" or "agency": where its entry is read from), then the drafts
        of procedures not published yet (origin "new" or "import")."""
        with transaction(self.db, read_only=True) as conn:
            drafts = {r.code: r for r in procedure_drafts.all_rows(conn)}
        published = self._published()
        rows = [
            DesignSummary(code, entry.name, self._origin_of(path), code in drafts, entry.process_key)
            for code, (path, _, entry) in sorted(published.items())
        ]
        for code, row in drafts.items():
            if code not in published:
                entry = row.parts.get("entry") or {}
                name = str(entry.get("name") or code)
                rows.append(DesignSummary(code, name, row.origin, True, str(entry.get("process_key") or "")))
        return sorted(rows, key=lambda r: r.code)

    def palette(self) -> Palette:
        return Palette(ROLES, self.topics)

    def draft(self, code: str) -> ProcedureDraft:
        """The saved draft, else one made from the published procedure (its versions and a draft version LAST)."""
        with transaction(self.db, read_only=True) as conn:
            row = procedure_drafts.find(conn, code)
        published = code in self._published()
        if row is not None:
            return self._from_parts(code, row.parts, row.origin, published, row.saved_by, row.saved_at)
        if not published:
            raise NotFound(f"Không có thủ tục mã {code}.", f"No procedure {code}.", code=code)
        return self._from_published(code)

    def _from_parts(
        self,
        code: str,
        parts: Mapping[str, Any],
        origin: str,
        published: bool,
        saved_by: str | None,
        saved_at: dt.datetime | None,
    ) -> ProcedureDraft:
        return ProcedureDraft(
            code,
            dict(parts.get("entry") or {}),
            parts.get("form"),
            parts.get("result_template"),
            str(parts.get("bpmn_name") or ""),
            str(parts.get("bpmn_xml") or ""),
            origin,
            published,
            saved_by,
            saved_at,
        )

    def _from_published(self, code: str) -> ProcedureDraft:
        path, _, entry = self._published()[code]
        bundle = export_bundle(self.files, code, self.clock.now())
        raw = dict(bundle["entry"])
        versions = list(raw.get("versions") or [])
        if versions:
            draft_version = copy.deepcopy(versions[-1])
            draft_version.pop("valid_to", None)
            draft_version["valid_from"] = self._next_start(versions).isoformat()
            raw["versions"] = [*versions, draft_version]
        bpmn = bundle["bpmn"] or {"name": f"{entry.process_key}.bpmn", "xml": ""}
        return ProcedureDraft(
            code,
            raw,
            bundle["form"],
            bundle["result_template"],
            bpmn["name"],
            bpmn["xml"],
            self._origin_of(path),
            True,
            None,
            None,
        )

    def _next_start(self, published_versions: Sequence[Any]) -> dt.date:
        """The first day a new version may start: today, and after the last published version's start."""
        last = _day(published_versions[-1].get("valid_from")) if published_versions else None
        earliest = self.today()
        return max(earliest, last + dt.timedelta(days=1)) if last is not None else earliest

    # ------------------------------------------------------------------ changing a draft

    def new(self, code: str, name: str, actor: str, start_from: str | None = None) -> ProcedureDraft:
        """A new procedure: an entry, form, template and process to start from; the process is a copy of the
        shipped process ``start_from`` under the procedure's own id, or one start event."""
        code = code.strip()
        name = " ".join(name.split())
        if not CODE.fullmatch(code):
            raise InvalidInput(
                f"Mã thủ tục '{code}' không đúng dạng mã của Cơ sở dữ liệu quốc gia về thủ tục hành chính "
                "(một chữ số, dấu chấm, sáu chữ số, ví dụ 1.001193).",
                f"Procedure code '{code}' is not of the national form (e.g. 1.001193).",
                code=code,
            )
        if not name:
            raise InvalidInput("Cần nhập tên thủ tục.", "The procedure needs a name.")
        if code in self._published():
            raise Conflict(
                f"Thủ tục mã {code} đã có trong danh mục: mở bản nháp của thủ tục đó để sửa.",
                f"Procedure {code} is already in the catalogue: edit its draft.",
                code=code,
            )
        process_key = own_process_id(code)
        if start_from:
            source = self.files.bpmn_files().get(start_from)
            if source is None:
                raise NotFound(f"Không có quy trình '{start_from}' để sao chép.", f"No process '{start_from}' to copy.")
            xml = renamed_process(source.read_text(encoding="utf-8"), process_key, name)
        else:
            xml = skeleton_bpmn(process_key, name)
        parts = {
            "entry": skeleton_entry(code, name, process_key, self.today()),
            "form": skeleton_form(code, name),
            "result_template": skeleton_template(code, name),
            "bpmn_name": f"{process_key}.bpmn",
            "bpmn_xml": xml,
        }
        now = self.clock.now()
        with transaction(self.db) as conn:
            if procedure_drafts.find(conn, code) is not None:
                raise Conflict(
                    f"Thủ tục mã {code} đang có bản nháp.", f"Procedure {code} already has a draft.", code=code
                )
            procedure_drafts.save(conn, code, parts, "new", actor, now)
            self.shop.record(
                "procedure.draft_created", actor, procedure_code=code, name=name, start_from=start_from or ""
            )
        return self._from_parts(code, parts, "new", False, actor, now)

    def save(
        self,
        code: str,
        actor: str,
        *,
        entry: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        result_template: dict[str, Any] | None = None,
        bpmn_xml: str | None = None,
    ) -> ProcedureDraft:
        """Save the parts given (the others stay as they are); the draft is made from the published procedure
        the first time. Nothing is checked here but the shape: ``check`` says what stops publishing."""
        given = {"entry": entry, "form": form, "result_template": result_template, "bpmn_xml": bpmn_xml}
        changed = {k: v for k, v in given.items() if v is not None}
        if not changed:
            raise InvalidInput("Không có phần nào để lưu.", "Nothing to save.")
        for key in ("entry", "form", "result_template"):
            if key in changed and not isinstance(changed[key], dict):
                raise InvalidInput(f"Phần {key} phải là đối tượng JSON.", f"{key} must be a JSON object.", part=key)
        if "bpmn_xml" in changed and not isinstance(bpmn_xml, str):
            raise InvalidInput("Quy trình BPMN phải là văn bản XML.", "The BPMN must be XML text.")
        if entry is not None and entry.get("code") != code:
            raise InvalidInput(
                f"Mã thủ tục trong mục danh mục ({entry.get('code')!r}) phải là {code}.",
                f"The entry's code must be {code}.",
                code=code,
            )
        current = self.draft(code)
        parts = self._parts(current) | changed
        now = self.clock.now()
        with transaction(self.db) as conn:
            procedure_drafts.save(conn, code, parts, current.origin, actor, now)
            self.shop.record("procedure.draft_saved", actor, procedure_code=code, parts=sorted(changed))
        return self._from_parts(code, parts, current.origin, current.published, actor, now)

    @staticmethod
    def _parts(draft: ProcedureDraft) -> dict[str, Any]:
        return {
            "entry": draft.entry,
            "form": draft.form,
            "result_template": draft.result_template,
            "bpmn_name": draft.bpmn_name,
            "bpmn_xml": draft.bpmn_xml,
        }

    def discard(self, code: str, actor: str) -> None:
        with transaction(self.db) as conn:
            if not procedure_drafts.remove(conn, code):
                raise NotFound(f"Thủ tục mã {code} không có bản nháp.", f"Procedure {code} has no draft.", code=code)
            self.shop.record("procedure.draft_discarded", actor, procedure_code=code)

    # ------------------------------------------------------------------ checking

    def check(self, code: str) -> list[str]:
        """What stops publishing the draft (Vietnamese first, "… / English"); [] = ready."""
        draft = self.draft(code)
        return self._check(draft, self._publish_day(draft, None))

    def _publish_day(self, draft: ProcedureDraft, valid_from: dt.date | None) -> dt.date:
        published = self._published_versions(draft.code)
        return valid_from or self._next_start(published)

    def _published_versions(self, code: str) -> list[Any]:
        found = self._published().get(code)
        if found is None:
            return []
        return list(json.loads(found[0].read_text(encoding="utf-8")).get("versions") or [])

    def _check(self, draft: ProcedureDraft, valid_from: dt.date) -> list[str]:
        found: list[str] = []
        entry = dated(draft.entry, valid_from)
        if entry.get("code") != draft.code:
            found.append(_problem(f"mã thủ tục trong entry phải là {draft.code}", f"entry.code must be {draft.code}"))
        form_schema: FormSchema | None = None
        form_ref = entry.get("form")
        if form_ref is not None:
            if draft.form is None:
                found.append(_problem(f"mục danh mục nêu biểu mẫu {form_ref} nhưng chưa có", "the form is missing"))
            elif not isinstance(form_ref, str) or form_ref != f"forms/{draft.code}.json":
                found.append(
                    _problem(
                        f"entry.form phải là 'forms/{draft.code}.json' (biểu mẫu lưu theo mã thủ tục)",
                        f"entry.form must be 'forms/{draft.code}.json'",
                    )
                )
            else:
                form_schema, problems = parse_form(draft.form, "form")
                found += [
                    _problem(f"biểu mẫu không hợp lệ: {vietnamese(p)}", f"the form schema is invalid: {english(p)}")
                    for p in problems
                ]
        parsed, problems = check_entry(entry, "entry", lambda _ref: draft.form)
        found += [
            _problem(f"mục danh mục không hợp lệ: {vietnamese(p)}", f"the catalogue entry is invalid: {english(p)}")
            for p in problems
        ]
        found += self._versions_kept(draft, entry)
        result = entry.get("result") if isinstance(entry.get("result"), Mapping) else None
        template_name = result.get("template") if result else None
        if template_name is not None:
            if draft.result_template is None:
                found.append(_problem("chưa có mẫu văn bản kết quả", "the result template is missing"))
            else:
                fields = [f.key for f in form_schema.fields] if form_schema is not None else None
                _, template_problems = check_template_text(_json_text(draft.result_template), "template", fields)
                found += [
                    _problem(f"mẫu văn bản kết quả: {p.vietnamese()}", f"result template: {p.english()}")
                    for p in template_problems
                ]
        found += self._bpmn_problems(draft, parsed.process_key if parsed else entry.get("process_key"), result)
        if found:
            return found
        own = self.files.catalogue_dir
        if not own:
            return [_problem(*NO_CATALOGUE_DIR)]
        return [
            _problem(f"danh mục sau khi công bố không hợp lệ: {vietnamese(p)}", f"procedures validate: {english(p)}")
            for p in staged_problems(self.files, Path(own), self._written(draft, entry, Path(own)))
        ]

    def _versions_kept(self, draft: ProcedureDraft, entry: Mapping[str, Any]) -> list[str]:
        """The published versions stay as they are (a dossier keeps the version it was received under); only the
        last one's end may be set, by the new version's start."""
        published = self._published_versions(draft.code)
        raw = entry.get("versions")
        versions: list[Any] = raw if isinstance(raw, list) else []
        kept = [dict(v) if isinstance(v, Mapping) else {} for v in versions[: len(published)]]
        before = [dict(v) for v in published]
        if kept and before:
            kept[-1].pop("valid_to", None)
            before[-1].pop("valid_to", None)
        if len(versions) != len(published) + 1 or kept != before:
            return [
                _problem(
                    f"các phiên bản quy định đã công bố ({len(published)}) phải giữ nguyên, thêm đúng một phiên bản "
                    "mới ở cuối danh sách versions",
                    f"the {len(published)} published rule versions must stay as they are, with one new version last",
                )
            ]
        return []

    def _bpmn_problems(self, draft: ProcedureDraft, key: Any, result: Mapping[str, Any] | None) -> list[str]:
        xml = draft.bpmn_xml.encode("utf-8")
        try:
            pids = process_ids(xml)
        except etree.XMLSyntaxError as exc:
            at = f" (dòng {exc.lineno})" if exc.lineno else ""
            return [_problem(f"tệp BPMN không phải XML hợp lệ{at}", f"the BPMN is not well-formed XML: {exc}")]
        found = []
        if pids != [key]:
            found.append(
                _problem(
                    f"tệp BPMN phải có đúng một quy trình thực thi được, id '{key}' (process_key của mục danh mục); "
                    f"đang có: {', '.join(pids) or 'không có'}",
                    f"the BPMN must hold exactly one executable process, id '{key}'",
                )
            )
        if not draft.bpmn_name.endswith(".bpmn") or Path(draft.bpmn_name).name != draft.bpmn_name:
            found.append(_problem(f"tên tệp BPMN không hợp lệ: {draft.bpmn_name!r}", "invalid BPMN file name"))
        for lint in lint_bpmn(xml, name=draft.bpmn_name):
            at = f"dòng {lint.line}, " if lint.line else ""
            found.append(
                _problem(
                    f"quy trình BPMN chưa đạt quy tắc [{lint.rule}] ({at}phần tử {lint.element_id or '-'}): "
                    f"{vietnamese(lint.message)}",
                    english(lint.message),
                )
            )
        topics = {a.topic for a in read_activity_attributes(xml).values() if a.kind == "serviceTask"}
        for topic in sorted(t or "" for t in topics - set(self.topics)) if self.topics else []:
            found.append(
                _problem(
                    f"không có bộ xử lý nào cho chủ đề '{topic}' (chọn một chủ đề trong danh sách)",
                    f"no worker handles topic '{topic}'",
                )
            )
        groups = {g for a in read_activity_attributes(xml).values() for g in a.candidate_groups}
        for group in sorted(groups - {r for r, _ in ROLES}):
            found.append(
                _problem(f"nhóm xử lý '{group}' không phải vai trò của cơ quan", f"'{group}' is not an agency role")
            )
        found += desk_steps(xml, result is not None)
        found += approval_before_signature(xml)
        if not found and isinstance(key, str):
            found += self._shared_process(draft, key)
        return found

    def _shared_process(self, draft: ProcedureDraft, key: str) -> list[str]:
        """A process shipped with Motcua or used by another procedure is published only unchanged."""
        current = self.files.bpmn_files().get(key)
        if current is None or current.read_text(encoding="utf-8") == draft.bpmn_xml:
            return []
        others = sorted(c for c, (_, _, e) in self._published().items() if e.process_key == key and c != draft.code)
        shipped = current.parent != (Path(self.files.catalogue_dir) if self.files.catalogue_dir else None)
        if not others and not shipped:
            return []
        who = f"{len(others)} thủ tục khác ({', '.join(others[:5])}{', …' if len(others) > 5 else ''})"
        return [
            _problem(
                f"quy trình '{key}' {'có sẵn trong hệ thống và ' if shipped else ''}được dùng chung"
                f"{' với ' + who if others else ''}: sửa nó sẽ đổi quy trình của các thủ tục đó. Hãy đặt cho quy trình "
                f"mã riêng, ví dụ '{own_process_id(draft.code)}' (id của process trong tệp BPMN và process_key của "
                "mục danh mục)",
                f"process '{key}' is shared (shipped or used by {len(others)} other procedures): give the process an "
                f"id of its own, e.g. '{own_process_id(draft.code)}'",
            )
        ]

    def _written(self, draft: ProcedureDraft, entry: Mapping[str, Any], own: Path) -> dict[Path, str]:
        """The files publishing writes, relative to the catalogue directory's parent."""
        bundle = {
            "format": FORMAT,
            "code": draft.code,
            "entry": entry,
            "form": draft.form,
            "result_template": draft.result_template,
            "bpmn": {"name": draft.bpmn_name, "xml": draft.bpmn_xml},
        }
        written, _ = _files_of(bundle, own)
        target = _bpmn_target(self.files, bundle, own)
        if target is not None:
            written[target] = draft.bpmn_xml
        return written

    # ------------------------------------------------------------------ publishing

    def publish(self, code: str, actor: str, valid_from: dt.date) -> Publication:
        """The draft as a new dated version: checked, written into the agency's catalogue, deployed, offered."""
        own = self.files.own()
        draft = self.draft(code)
        today = self.today()
        published = self._published_versions(code)
        last = _day(published[-1].get("valid_from")) if published else None
        if valid_from < today or (last is not None and valid_from <= last):
            earliest = self._next_start(published)
            raise InvalidInput(
                f"Ngày hiệu lực {valid_from:%d/%m/%Y} không hợp lệ: phiên bản mới có hiệu lực từ ngày "
                f"{earliest:%d/%m/%Y} trở đi (không trước hôm nay, sau ngày hiệu lực của phiên bản đã công bố).",
                f"valid_from {valid_from} must be {earliest} or later.",
                valid_from=valid_from.isoformat(),
            )
        problems = self._check(draft, valid_from)
        if problems:
            raise refusal(problems, "Chưa công bố được thủ tục", "The procedure cannot be published")
        entry = dated(draft.entry, valid_from)
        written = self._written(draft, entry, own)
        before = {rel: _text_of(own.parent / rel) for rel in written}
        write_atomically(own.parent, written)
        try:
            deployed = tuple(self.engine.deploy())
            rows = [r for r in self.files.entries() if r[2].code == code]
            now = self.clock.now()
            digest = sha256(draft.bpmn_xml)
            process_key = str(entry["process_key"])
            with transaction(self.db) as conn:
                reference_data.save_procedures(conn, rows)
                procedure_drafts.remove(conn, code)
                procedure_drafts.add_publication(
                    conn, code, valid_from, actor, now, process_key, list(deployed), digest
                )
                self.shop.record(
                    "procedure.published",
                    actor,
                    procedure_code=code,
                    valid_from=valid_from.isoformat(),
                    process_key=process_key,
                    deployed=list(deployed),
                    bpmn_sha256=digest,
                )
        except BaseException:
            restore(own.parent, before)  # the catalogue as it was: the draft stays, publishing can be tried again
            raise
        return Publication(code, valid_from, actor, now, process_key, deployed, digest)

    def publications(self, code: str) -> list[Publication]:
        with transaction(self.db, read_only=True) as conn:
            rows = procedure_drafts.publications(conn, code)
        return [
            Publication(
                r.code, r.valid_from, r.published_by, r.published_at, r.process_key, tuple(r.deployed), r.bpmn_sha256
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ one file

    def export(self, code: str) -> dict[str, Any]:
        """The ``motcua-procedure/1`` bundle of the PUBLISHED procedure ``code``."""
        return export_bundle(self.files, code, self.clock.now())

    def import_bundle(self, bundle: Any, actor: str) -> ProcedureDraft:
        """A bundle into a draft (origin "import"), after its shape is checked; ``check`` then says the rest.
        The bundle's last rule version becomes the draft version, after the versions published here (none for a
        procedure new to this installation: another province's history is not ours)."""
        problems = bundle_shape(bundle)
        if problems:
            raise refusal(problems)
        self.files.own()
        code = str(bundle["code"])
        entry = copy.deepcopy(dict(bundle["entry"]))
        published = self._published_versions(code)
        versions = entry.get("versions") if isinstance(entry.get("versions"), list) else []
        if versions:  # the bundle's version in force becomes the draft version, after the ones published here
            entry["versions"] = [*copy.deepcopy(published), versions[-1]]
        parts = {
            "entry": entry,
            "form": bundle.get("form"),
            "result_template": bundle.get("result_template"),
            "bpmn_name": bundle["bpmn"]["name"],
            "bpmn_xml": bundle["bpmn"]["xml"],
        }
        now = self.clock.now()
        with transaction(self.db) as conn:
            if procedure_drafts.find(conn, code) is not None:
                raise Conflict(
                    f"Thủ tục mã {code} đang có bản nháp: hủy hoặc công bố bản nháp đó trước khi nhập.",
                    f"Procedure {code} already has a draft.",
                    code=code,
                )
            procedure_drafts.save(conn, code, parts, "import", actor, now)
            self.shop.record("procedure.imported", actor, procedure_code=code, exported_at=bundle.get("exported_at"))
        return self._from_parts(code, parts, "import", bool(published), actor, now)

    # ------------------------------------------------------------------ previews

    def preview_form(self, schema: Any) -> tuple[FormSchema | None, list[str]]:
        """The form as the pages would draw it, or every problem of the schema."""
        return parse_form(schema, "form")

    def preview_result(self, code: str, template: Any, form: Any | None = None) -> bytes:
        """The template rendered with its sample data (as the registry previews a published one); a bad template
        is refused naming the line and field of each problem."""
        fields = None
        if form is not None:
            parsed, problems = parse_form(form, "form")
            if parsed is None:
                raise InvalidInput(
                    "Biểu mẫu không hợp lệ: " + "; ".join(vietnamese(p) for p in problems),
                    "The form is invalid.",
                    problems=problems,
                )
            fields = [f.key for f in parsed.fields]
        if not isinstance(template, Mapping):
            raise InvalidInput("Mẫu văn bản kết quả phải là đối tượng JSON.", "The template must be a JSON object.")
        parsed_template = parse_template(_json_text(template), f"{code}.json", fields)
        name = code
        with contextlib.suppress(NotFound):  # a preview before the draft exists: the code stands for the name
            name = self.draft(code).entry.get("name") or code
        return render_preview(parsed_template, procedure_code=code, procedure_name=str(name))
