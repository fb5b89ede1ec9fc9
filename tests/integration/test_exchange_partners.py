"""Partner configuration of signed envelopes (integrations.envelopes.partners.PartnerRegistry) read from files:
mistakes are named clearly. Acknowledgments and refusal codes are tested in tests/unit/test_exchange_partners.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dossiers.errors import InvalidInput
from integrations.envelopes.partners import PartnerRegistry
from signing.pki import DevelopmentPki
from tests.unit.test_exchange_partners import LAND_OFFICE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def root_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pki = DevelopmentPki(tmp_path_factory.mktemp("partner-pki"))
    pki.ensure([(LAND_OFFICE, "Chi nhánh Văn phòng đăng ký đất đai")], [], dt.datetime.now(dt.UTC))
    return pki.root_cert_path


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "partners.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_partners_load_with_paths_relative_to_the_file(tmp_path: Path, root_pem: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "root.pem").write_bytes(root_pem.read_bytes())
    path = _write(
        tmp_path, {"partners": [{"agency": LAND_OFFICE, "url": "https://x/api", "trust_roots": ["certs/root.pem"]}]}
    )
    registry = PartnerRegistry.load(path)
    assert registry.is_remote(LAND_OFFICE) and not registry.is_remote("000.00.31.H99")
    partner = registry.get(LAND_OFFICE)
    assert partner is not None and partner.url == "https://x/api" and len(partner.trust_roots) == 1
    assert registry.remote_agencies == frozenset({LAND_OFFICE})


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("{not json", "Cannot read"),
        ({"partner": []}, "'partners' list"),
        ({"partners": [{"url": "https://x"}]}, "needs 'agency' and 'url'"),
        ({"partners": [{"agency": LAND_OFFICE, "url": "https://x"}]}, "no 'trust_roots'"),
        ({"partners": [{"agency": LAND_OFFICE, "url": "https://x", "trust_roots": ["missing.pem"]}]}, "missing.pem"),
    ],
)
def test_a_broken_partner_file_is_refused_with_the_reason(tmp_path: Path, content: object, named: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        PartnerRegistry.load(_write(tmp_path, content))
    assert named in caught.value.message_en
