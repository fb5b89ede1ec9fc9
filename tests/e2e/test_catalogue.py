"""The catalogue through the API, the public page (niêm yết công khai) and the ``motcua procedures`` command; an
invalid catalogue stops ``init`` and ``serve``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dossiers.errors import InvalidInput
from motcua.app import init_state
from motcua.cli import app as cli
from motcua.settings import Settings
from services.catalogue import BUILT_IN
from tests.conftest import Api
from workflows import BPMN_DIR

runner = CliRunner()


def test_procedures_api_follows_the_day(api: Api) -> None:
    today = {p["code"]: p for p in api.client.get("/api/procedures").json()}
    household = today["1.001612"]
    assert household["levels"] == ["commune"] and household["rule_version"] == "2025-07-01"
    assert household["online_level"] == "partial" and "postal" in household["channels"]
    assert {p["key"]: p["form_name"] for p in household["papers"]}["giay_to_phap_ly"] == "Bản sao"
    before = {p["code"]: p for p in api.client.get("/api/procedures", params={"on": "2024-05-01"}).json()}
    assert before["1.001612"]["levels"] == ["district"]
    detail = api.client.get("/api/procedures/1.001612").json()
    assert detail["versions"] == ["2021-04-04", "2025-07-01"]
    r = api.client.get("/api/procedures/9.999999")
    assert r.status_code == 422 and "9.999999" in r.text


def test_public_catalogue_page_lists_papers_and_fees(api: Api) -> None:
    r = api.client.get("/thu-tuc")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "Danh mục thủ tục hành chính" in page and "Đăng ký thành lập hộ kinh doanh" in page
    assert "03 ngày làm việc" in page and "2.000 đồng" in page  # the certified copy's fee per page
    assert "/static/fonts/NotoSerif-Regular.ttf" in page
    detail = api.client.get("/thu-tuc/1.001612").text
    assert "Thành phần hồ sơ" in detail and "Giấy đề nghị đăng ký hộ kinh doanh" in detail
    assert "Bản sao" in detail and "Nghị định 168/2025/NĐ-CP" in detail
    font = api.client.get("/static/fonts/NotoSerif-Regular.ttf")
    assert font.status_code == 200 and font.content[:4] == b"\x00\x01\x00\x00"
    assert api.client.get("/static/fonts/..%2F..%2Fpyproject.toml").status_code == 404


def test_cli_lists_shows_and_validates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOTCUA_VAR_DIR", str(tmp_path / "var"))
    listed = runner.invoke(cli, ["procedures", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert {p["code"] for p in json.loads(listed.output)} >= {"1.001612", "2.000815"}
    shown = runner.invoke(cli, ["procedures", "show", "1.001612", "--on", "2024-05-01"])
    assert shown.exit_code == 0 and "district" in shown.output and "Nghị định 01/2021/NĐ-CP" in shown.output
    assert runner.invoke(cli, ["procedures", "show", "0.000000"]).exit_code == 2
    valid = runner.invoke(cli, ["procedures", "validate"])
    assert valid.exit_code == 0, valid.output

    own = tmp_path / "own"
    own.mkdir()
    data = json.loads((BUILT_IN / "1.001612.json").read_text(encoding="utf-8"))
    data |= {"code": "9.000001", "process_key": "not_deployed"}
    (own / "9.000001.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("MOTCUA_CATALOGUE_DIR", str(own))
    invalid = runner.invoke(cli, ["procedures", "validate"])
    assert invalid.exit_code == 1
    assert "9.000001.json" in invalid.output and "process_key 'not_deployed' has no BPMN file" in invalid.output
    assert "thủ tục 9.000001: chưa có tệp BPMN nào cho quy trình process_key 'not_deployed'" in invalid.output


def test_init_and_serve_refuse_an_invalid_catalogue(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / "bad.json").write_text('{"code": "9.000002", "versions": []}', encoding="utf-8")
    settings = Settings(var_dir=tmp_path / "var", catalogue_dir=own)
    with pytest.raises(InvalidInput, match="catalogue is invalid") as refused:
        init_state(settings)
    assert "bad.json" in refused.value.message_en
    monkeypatch.setenv("MOTCUA_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MOTCUA_CATALOGUE_DIR", str(own))
    served = runner.invoke(cli, ["serve"])
    assert served.exit_code == 2
    assert "bad.json" in served.output and "$.versions" in served.output


def test_an_agency_adds_a_procedure_with_a_bpmn_file_and_an_entry(tmp_path: Path) -> None:
    """No Python: the agency's directory holds the BPMN and the entry; the dossier runs end to end."""
    from dossiers.clock import SimulatedClock
    from motcua.app import build_runtime
    from tests.conftest import MONDAY_MORNING, minimal_pdf

    own = tmp_path / "own"
    own.mkdir()
    bpmn = (BPMN_DIR / "generic_procedure.bpmn").read_text(encoding="utf-8")
    # the process and the plane of its diagram are renamed together
    (own / "local_permit.bpmn").write_text(bpmn.replace('"generic_procedure"', '"local_permit"'), encoding="utf-8")
    data = json.loads((BUILT_IN / "2.000815.json").read_text(encoding="utf-8"))
    data |= {"code": "9.000003", "name": "Cấp phép biển quảng cáo tạm thời", "process_key": "local_permit"}
    (own / "9.000003.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    settings = Settings(var_dir=tmp_path / "var", catalogue_dir=own, demo_clock=True, max_upload_mb=2)
    init_state(settings)
    runtime = build_runtime(settings, clock=SimulatedClock(MONDAY_MORNING))
    try:
        api = Api(runtime)
        r = api.submit(
            procedure="9.000003",
            files={"paper.ban_chinh": ("a.pdf", minimal_pdf("ban chinh"), "application/pdf")},
        )
        assert r.status_code == 201, r.text
        instance = runtime.engine.instance(r.json()["code"])
        assert instance is not None and instance.process_key == "local_permit"
        assert api.work() >= 1  # the agency's BPMN runs on the same workers
    finally:
        runtime.close()


def test_validate_reports_an_agency_template_with_a_missing_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from documents.templating import DEFAULT_DIR

    own = tmp_path / "templates"
    own.mkdir()
    data = json.loads((DEFAULT_DIR / "mau-04.json").read_text(encoding="utf-8"))
    data["texts"].pop(next(iter(data["texts"])))
    (own / "mau-04.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("MOTCUA_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MOTCUA_TEMPLATES_DIR", str(own))
    result = runner.invoke(cli, ["procedures", "validate"])
    assert result.exit_code == 1
    assert "mau-04.json" in result.output and "missing required field 'texts." in result.output
    assert "mau-04: thiếu trường bắt buộc 'texts." in result.output  # Vietnamese first


def test_intake_only_through_the_procedures_channels(api: Api) -> None:
    from tests.conftest import minimal_pdf

    files = {"paper.ban_chinh": ("ban-chinh.pdf", minimal_pdf("ban chinh"), "application/pdf")}
    online = api.submit(as_user="congdan1", procedure="2.000815", files=files, agency_code="000.00.31.H99")
    assert online.status_code == 422, online.text  # a certified copy needs the original at the desk
    assert "trực tuyến" in online.json()["title"] and "'online' channel" in online.json()["detail"]
    by_post = api.submit(channel="postal")  # household business registration takes postal dossiers
    assert by_post.status_code == 201 and by_post.json()["channel"] == "postal"
