"""Signed envelopes (integrations.envelopes): acknowledgments and refusal codes. Partner files on disk and their
mistakes, named clearly: tests/integration/test_exchange_partners.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from integrations.envelopes.manifest import build_ack

LAND_OFFICE = "000.40.00.H99"


def test_an_acknowledgment_is_canonical_and_names_the_refusal() -> None:
    from integrations.envelopes.manifest import Refusal

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

    from integrations.envelopes import manifest, partners
    from services import receiving

    source = "".join(Path(m.__file__ or "").read_text(encoding="utf-8") for m in (manifest, partners, receiving))
    raised = set(re.findall(r'Refusal\(\s*"([a-z_]+)"', source))
    assert raised == set(manifest.REFUSALS)
    docs = (Path(__file__).parents[2] / "docs" / "exchange.md").read_text(encoding="utf-8")
    assert {code for code in raised if f"`{code}`" not in docs} == set()


def test_a_refusal_survives_leaving_a_transaction() -> None:
    """A refusal raised inside ``with transaction(...)`` reaches the NACK code unchanged (a frozen dataclass
    exception broke there: the context manager sets its ``__traceback__``)."""
    import contextlib
    from collections.abc import Iterator

    from integrations.envelopes.manifest import Refusal

    @contextlib.contextmanager
    def unit_of_work() -> Iterator[None]:
        yield

    with pytest.raises(Refusal) as caught, unit_of_work():
        raise Refusal("unknown_dossier", "Hồ sơ không có.", "No such dossier.")
    assert (caught.value.code, caught.value.message_en) == ("unknown_dossier", "No such dossier.")
