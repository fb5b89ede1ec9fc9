"""Partner configuration of signed envelopes (motcua.envelopes.PartnerRegistry): mistakes are named clearly."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dossiers.errors import InvalidInput
from motcua.envelopes import PartnerRegistry, build_ack
from signing.pki import DevelopmentPki

LAND_OFFICE = "000.40.00.H99"


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


def test_an_acknowledgment_is_canonical_and_names_the_refusal() -> None:
    from motcua.envelopes import Refusal

    at = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    kwargs = dict(message_id="m1", by_agency=LAND_OFFICE, to_agency="000.00.31.H99", dossier_code="D", at=at)
    ack = build_ack(accepted=True, manifest_sha256="ab" * 32, **kwargs)  # type: ignore[arg-type]
    assert ack == build_ack(accepted=True, manifest_sha256="ab" * 32, **kwargs)  # type: ignore[arg-type]
    body = json.loads(ack)
    assert body["status"] == "accepted" and "reason" not in body
    nack = json.loads(
        build_ack(
            accepted=False,
            manifest_sha256="",
            refusal=Refusal("tampered", "Tài liệu đã bị thay đổi.", "Document changed."),
            **kwargs,  # type: ignore[arg-type]
        )
    )
    assert nack["status"] == "refused"
    assert nack["reason"] == {"code": "tampered", "vi": "Tài liệu đã bị thay đổi.", "en": "Document changed."}


def test_every_refusal_code_is_listed_and_documented() -> None:
    """The reason codes a NACK can carry are a contract with partners: each one raised is in REFUSALS and in
    docs/exchange.md, and none is listed that nothing raises."""
    import re
    from pathlib import Path

    from motcua import envelopes

    source = Path(envelopes.__file__).read_text(encoding="utf-8")
    raised = set(re.findall(r'Refusal\(\s*"([a-z_]+)"', source))
    assert raised == set(envelopes.REFUSALS)
    docs = (Path(__file__).parents[2] / "docs" / "exchange.md").read_text(encoding="utf-8")
    assert {code for code in raised if f"`{code}`" not in docs} == set()


def test_a_refusal_survives_leaving_a_transaction() -> None:
    """A refusal raised inside ``with transaction(...)`` reaches the NACK code unchanged (a frozen dataclass
    exception broke there: the context manager sets its ``__traceback__``)."""
    import contextlib
    from collections.abc import Iterator

    from motcua.envelopes import Refusal

    @contextlib.contextmanager
    def unit_of_work() -> Iterator[None]:
        yield

    with pytest.raises(Refusal) as caught, unit_of_work():
        raise Refusal("unknown_dossier", "Hồ sơ không có.", "No such dossier.")
    assert (caught.value.code, caught.value.message_en) == ("unknown_dossier", "No such dossier.")
