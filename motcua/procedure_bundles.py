"""A procedure in one file, so provinces can share what they author: ``motcua procedures export CODE`` writes the
catalogue entry, its application form, its result template and its BPMN process into one JSON document
(``motcua-procedure/1``); ``motcua procedures import FILE`` puts them into the agency's own catalogue
(``MOTCUA_CATALOGUE_DIR``: the entry and the BPMN file in it, the result template in its ``results/``, the form in
``forms/`` beside it — where the catalogue reads them).

An import is checked whole before anything is written: the bundle's shape, its process against the ones the
installation already has (a shipped process key with other content is refused: it would change the process of
every procedure sharing it), and the whole catalogue as it would be after the import (``procedures validate`` on a
staged copy). Nothing is written unless all of it holds; ``init`` then records the procedure and deploys its process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dossiers.errors import InvalidInput, NotFound
from motcua.settings import Settings
from services.catalogue import catalogue_dirs, read_catalogue
from workflows.introspect import process_ids

FORMAT = "motcua-procedure/1"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _bpmn_files(settings: Settings) -> dict[str, Path]:
    """Process id → the BPMN file defining it, the agency's own after the shipped ones."""
    from motcua.app import bpmn_dirs

    index: dict[str, Path] = {}
    for directory in bpmn_dirs(settings):
        for path in sorted(directory.glob("*.bpmn")) if directory.is_dir() else []:
            for pid in process_ids(path.read_bytes()):
                index[pid] = path
    return index


def export_bundle(settings: Settings, code: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """The procedure ``code`` as one JSON-ready document: its entry as written, its form, template and process."""
    from motcua.app import result_template_dirs

    entries, _ = read_catalogue(catalogue_dirs(settings.catalogue_dir))
    found = next(((path, entry) for path, _, entry in entries if entry.code == code), None)
    if found is None:
        raise NotFound(f"Không có thủ tục mã {code}.", f"No procedure {code}.", code=code)
    path, entry = found
    raw = json.loads(path.read_text(encoding="utf-8"))
    template = None
    if entry.result is not None and entry.result.template:
        name = entry.result.template
        template_path = next((d / name for d in result_template_dirs(settings) if (d / name).is_file()), None)
        template = json.loads(template_path.read_text(encoding="utf-8")) if template_path else None
    bpmn_path = _bpmn_files(settings).get(entry.process_key)
    bpmn = None
    if bpmn_path is not None:
        xml = bpmn_path.read_text(encoding="utf-8")
        bpmn = {"name": bpmn_path.name, "xml": xml, "sha256": _sha256(xml)}
    return {
        "format": FORMAT,
        "code": entry.code,
        "exported_at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "entry": raw,
        "form": dict(entry.form.schema) if entry.form is not None else None,
        "result_template": template,
        "bpmn": bpmn,
    }


def _refuse(problems: list[str]) -> InvalidInput:
    listing = "\n".join(f"  - {p}" for p in problems)
    return InvalidInput(
        f"Không nhập được thủ tục ({len(problems)} lỗi):\n{listing}",
        f"The procedure cannot be imported ({len(problems)} problems):\n{listing}",
        problems=problems,
    )


def _shape(bundle: Any) -> list[str]:
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
    files = {Path(own.name) / f"{code}.json": json.dumps(entry, ensure_ascii=False, indent=2) + "\n"}
    problems = []
    form_ref = entry.get("form")
    if isinstance(form_ref, str):
        if bundle.get("form") is None:
            problems.append(f"entry names the form {form_ref} but the bundle has none / thiếu biểu mẫu")
        elif Path(form_ref).parts[:1] != ("forms",) or ".." in Path(form_ref).parts:
            problems.append(f"biểu mẫu phải nằm trong forms/: {form_ref} / the form must be under forms/")
        else:
            files[Path(form_ref)] = json.dumps(bundle["form"], ensure_ascii=False, indent=2) + "\n"
    result = entry.get("result")
    template_ref = result.get("template") if isinstance(result, Mapping) else None
    if isinstance(template_ref, str):
        if bundle.get("result_template") is None or Path(template_ref).name != template_ref:
            problems.append(f"thiếu mẫu văn bản kết quả {template_ref} / the result template is missing")
        else:
            body = json.dumps(bundle["result_template"], ensure_ascii=False, indent=2) + "\n"
            files[Path(own.name) / "results" / template_ref] = body
    return files, problems


def import_bundle(settings: Settings, bundle: Any, *, replace: bool = False) -> list[Path]:
    """Put a bundle's procedure into the agency's catalogue; every check first, then the files (their paths)."""
    from motcua.app import check_catalogue

    problems = _shape(bundle)
    if problems:
        raise _refuse(problems)
    if not settings.catalogue_dir:
        raise InvalidInput(
            "Chưa cấu hình thư mục danh mục của cơ quan (MOTCUA_CATALOGUE_DIR): thủ tục nhập vào được lưu ở đó.",
            "MOTCUA_CATALOGUE_DIR is not set: imported procedures are kept there.",
        )
    own = Path(settings.catalogue_dir)
    code = bundle["code"]
    files, problems = _files_of(bundle, own)
    if (own / f"{code}.json").exists() and not replace:
        problems.append(f"thủ tục {code} đã có trong danh mục của cơ quan (dùng --replace để thay) / already there")
    xml = bundle["bpmn"]["xml"]
    pids = process_ids(xml.encode("utf-8"))
    key = bundle["entry"].get("process_key")
    if key not in pids:
        problems.append(f"tệp BPMN không định nghĩa quy trình {key!r} / the BPMN file does not define {key!r}")
    existing = _bpmn_files(settings)
    for pid in pids:
        current = existing.get(pid)
        if current is None or current.read_text(encoding="utf-8") == xml:
            continue
        if current.parent != own or not replace:
            problems.append(
                f"quy trình {pid} đã có với nội dung khác ({current.name}); đổi mã quy trình để nhập quy trình mới "
                f"/ process {pid} already exists with other content"
            )
    if not any(existing.get(pid) and existing[pid].read_text(encoding="utf-8") == xml for pid in pids):
        files[Path(own.name) / bundle["bpmn"]["name"]] = xml
    if problems:
        raise _refuse(problems)

    with tempfile.TemporaryDirectory(prefix="motcua-import-") as tmp:
        staged = Path(tmp)
        if own.is_dir():
            shutil.copytree(own, staged / own.name)
        if (own.parent / "forms").is_dir():
            shutil.copytree(own.parent / "forms", staged / "forms")
        for rel, text in files.items():
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            (staged / rel).write_text(text, encoding="utf-8")
        found = check_catalogue(settings.model_copy(update={"catalogue_dir": staged / own.name}))
        if found:
            raise _refuse([str(p).replace(str(staged), str(own.parent)) for p in found])

    written = []
    for rel, text in files.items():
        target = own.parent / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.importing")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
        written.append(target)
    return written
