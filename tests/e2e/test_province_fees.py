"""Fees the provincial People's Council sets (issue 18, point 7), through the HTTP API: the public pages do not
call them free, and the amount configured for the receiving agency is what the dossier pays before its result is
returned."""

from __future__ import annotations

import pytest

from dossiers.fees import check_fee_table
from tests.conftest import COMMUNE, HOUSEHOLD_BUSINESS, Api

PROVINCE_FEE = "Theo mức do Hội đồng nhân dân cấp tỉnh quyết định"


def test_public_pages_do_not_call_a_province_fee_free(api: Api) -> None:
    household = api.client.get(f"/thu-tuc/{HOUSEHOLD_BUSINESS}").text
    assert PROVINCE_FEE in household and "Không thu" not in household
    assert "2.000 đồng" in api.client.get("/thu-tuc/2.000815").text  # national: the certified copy, per page
    assert "Không thu" in api.client.get("/thu-tuc/1.001193").text  # birth registered on time: exempt by law
    listing = api.client.get("/thu-tuc").text
    procedures = {p["code"]: p for p in api.client.get("/api/procedures").json()}
    by_province = {code for code, p in procedures.items() if p["fee_set_by"] == "province"}
    assert {HOUSEHOLD_BUSINESS, "1.009994", "1.013978"} <= by_province
    assert listing.count(PROVINCE_FEE) == len(by_province)  # each such procedure's row, and no other
    assert (procedures[HOUSEHOLD_BUSINESS]["fee_set_by"], procedures[HOUSEHOLD_BUSINESS]["fee_vnd"]) == ("province", 0)
    assert (procedures["2.000815"]["fee_set_by"], procedures["2.000815"]["fee_vnd"]) == ("national", 2000)


def test_the_receiving_agency_fee_is_charged_before_the_result_is_returned(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    fees, problems = check_fee_table(
        {
            "fees": [
                {
                    "procedure": HOUSEHOLD_BUSINESS,
                    "agencies": [COMMUNE],
                    "amount_vnd": 100000,
                    "valid_from": "2025-07-01",
                    "source": "Nghị quyết số 01/2025/NQ-HĐND (thử)",
                }
            ]
        }
    )
    assert problems == []
    monkeypatch.setattr(api.runtime.shop, "fees", fees)  # as motcua/data/fees.json would give it at start
    code = api.received()
    summary = api.get(f"/api/dossiers/{code}/payments", "tiepnhan.xa1").json()
    assert (summary["fee_vnd"], summary["paid_vnd"], summary["paid"]) == (100000, 0, False)

    assert api.decide("chuyenvien1.xa1", code, "approve", "Hồ sơ hợp lệ").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    refused = api.decide("tiepnhan.xa1", code, None)  # return_result
    assert refused.status_code == 409 and "0/100.000 đồng" in refused.json()["title"]

    paid = api.post(f"/api/dossiers/{code}/payments/cash", "tiepnhan.xa1", json={"receipt_number": "BL-0100"})
    assert paid.status_code == 201, paid.text
    assert (paid.json()["amount_vnd"], paid.json()["fee_paid"]) == (100000, True)
    assert api.decide("tiepnhan.xa1", code, None).status_code == 200
