"""A procedure in one file (``motcua procedures export`` / ``import``): what one province authored, another puts
into its own catalogue — checked whole first, nothing written when anything is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from motcua.cli import app as cli
from motcua.procedure_bundles import FORMAT

pytestmark = pytest.mark.integration


def _run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    own = tmp_path / "province" / "catalogue"
    own.mkdir(parents=True)
    return {"MOTCUA_VAR_DIR": str(tmp_path / "var"), "MOTCUA_CATALOGUE_DIR": str(own)}


def _exported(env: dict[str, str], tmp_path: Path, code: str = "1.001612") -> dict[str, Any]:
    out = tmp_path / f"{code}.motcua.json"
    run = _run(env, "procedures", "export", code, "--out", str(out))
    assert run.exit_code == 0, run.output
    return dict(json.loads(out.read_text(encoding="utf-8")))


def _as_new(bundle: dict[str, Any], code: str) -> dict[str, Any]:
    """The bundle of another province's procedure: a new code, its own form and template files."""
    entry = dict(bundle["entry"]) | {"code": code, "name": "Thủ tục chia sẻ từ tỉnh khác"}
    entry |= {"form": f"forms/{code}.json", "result": {"template": f"{code}.json"}}
    return bundle | {"code": code, "entry": entry}


def _write(tmp_path: Path, bundle: Any) -> str:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    return str(path)


def _own_files(env: dict[str, str]) -> list[str]:
    root = Path(env["MOTCUA_CATALOGUE_DIR"]).parent
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_an_exported_procedure_carries_its_four_parts(env: dict[str, str], tmp_path: Path) -> None:
    bundle = _exported(env, tmp_path)
    assert bundle["format"] == FORMAT and bundle["code"] == "1.001612"
    assert bundle["entry"]["process_key"] == "household_business_registration"
    assert bundle["form"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert bundle["result_template"]["title"]
    assert bundle["bpmn"]["name"] == "household_business_registration.bpmn"
    assert 'id="household_business_registration"' in bundle["bpmn"]["xml"]
    assert _run(env, "procedures", "export", "9.999999").exit_code == 2  # unknown code: a clear refusal


def test_another_province_imports_it_and_the_catalogue_stays_valid(env: dict[str, str], tmp_path: Path) -> None:
    bundle = _as_new(_exported(env, tmp_path), "9.000101")
    run = _run(env, "procedures", "import", _write(tmp_path, bundle))
    assert run.exit_code == 0, run.output
    # the shipped process is the same: only the entry, its form and its template are written
    assert _own_files(env) == ["catalogue/9.000101.json", "catalogue/results/9.000101.json", "forms/9.000101.json"]
    assert _run(env, "procedures", "validate").exit_code == 0
    shown = _run(env, "procedures", "show", "9.000101", "--json")
    assert shown.exit_code == 0 and json.loads(shown.output)["name"] == "Thủ tục chia sẻ từ tỉnh khác"
    preview = _run(env, "procedures", "preview", "9.000101", "--out", str(tmp_path / "p.pdf"))
    assert preview.exit_code == 0, preview.output

    again = _run(env, "procedures", "import", _write(tmp_path, bundle))
    assert again.exit_code == 2 and "đã có trong danh mục của cơ quan" in again.output
    assert _run(env, "procedures", "import", _write(tmp_path, bundle), "--replace").exit_code == 0


def test_a_new_process_comes_with_its_bpmn_file(env: dict[str, str], tmp_path: Path) -> None:
    bundle = _as_new(_exported(env, tmp_path), "9.000102")
    xml = bundle["bpmn"]["xml"].replace('"household_business_registration"', '"shared_business"')
    bundle["bpmn"] = {"name": "shared_business.bpmn", "xml": xml}
    bundle["entry"] = bundle["entry"] | {"process_key": "shared_business"}
    run = _run(env, "procedures", "import", _write(tmp_path, bundle))
    assert run.exit_code == 0, run.output
    assert "catalogue/shared_business.bpmn" in _own_files(env)
    assert _run(env, "procedures", "validate").exit_code == 0


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda b: b | {"format": "other/1"}, "định dạng phải là motcua-procedure/1"),
        (lambda b: {k: v for k, v in b.items() if k != "bpmn"}, "thiếu quy trình BPMN"),
        (lambda b: b | {"code": "9.000199"}, "khác mã trong entry"),
        (  # a shipped process key with other content would change every procedure sharing it
            lambda b: b | {"bpmn": b["bpmn"] | {"xml": b["bpmn"]["xml"].replace("Thẩm định hồ sơ", "Xem xét")}},
            "đã có với nội dung khác",
        ),
        (  # the template names a field the form does not have: the staged catalogue check refuses it
            lambda b: b | {"result_template": b["result_template"] | {"title": "GIẤY {khong_co_truong}"}},
            "results/9.000103.json: thủ tục 9.000103: dòng 8, trường /title: {khong_co_truong} không phải là dữ liệu "
            "của hồ sơ hay của tờ khai",
        ),
        (lambda b: b | {"entry": b["entry"] | {"form": "../../etc/x.json"}}, "biểu mẫu phải nằm trong forms/"),
    ],
    ids=["format", "no-bpmn", "code-mismatch", "shipped-process-changed", "bad-template", "form-outside"],
)
def test_a_bad_bundle_is_refused_and_nothing_is_written(
    env: dict[str, str], tmp_path: Path, spoil: Any, message: str
) -> None:
    bundle = spoil(_as_new(_exported(env, tmp_path), "9.000103"))
    run = _run(env, "procedures", "import", _write(tmp_path, bundle))
    assert run.exit_code == 2, run.output
    assert "Không nhập được thủ tục" in run.output and message in run.output, run.output
    assert _own_files(env) == []
