"""The signing benchmark's LTV part (bench/signing.py, bench/signing_ltv.py) runs: one B-LT seal with the TSA and
CRL server the bench starts itself, its table row and JSON line, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import json

import pytest

from bench.signing import Budget, run_ltv
from bench.signing_ltv import B_LT_SEAL
from tests.integration.certomancer_pki import CERTOMANCER_MISSING
from tests.services import service_missing

pytestmark = pytest.mark.integration


def test_the_b_lt_part_of_the_signing_benchmark_runs_against_its_own_local_tsa(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if CERTOMANCER_MISSING:
        service_missing(CERTOMANCER_MISSING)
    line = run_ltv(Budget(iterations=1, seconds=0.0, warmup=0), only=(B_LT_SEAL,))

    printed = capsys.readouterr().out
    assert "B-LT seal (TSA)" in printed and "B-B seal" not in printed  # only the part asked for
    assert printed.rstrip().endswith(line)
    measured = json.loads(line)
    assert measured["bench"] == "signing-ltv" and list(measured["rows"]) == [B_LT_SEAL]
    row = measured["rows"][B_LT_SEAL]
    # a B-LT seal as signing.ades finds it offline with only the roots: the TSA answered and its CRL was fetched
    assert row["levels"] == "B-LT"
    assert row["runs"] == 1 and row["median_ms"] > 0 and row["cpu_ms"] > 0
    assert row["http_per_operation"]["tsa"] >= 1 and row["http_per_operation"]["crls"] >= 1
    assert 0 < row["server_cpu_ms"] <= row["cpu_ms"]  # the server answered inside the timed operation
    assert measured["ratios"] == {}  # no B-B row to compare with
