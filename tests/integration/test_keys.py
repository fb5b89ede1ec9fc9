"""Server-side key providers (signing.api, signing.keys) over a development PKI on disk: the PKCS#12 cache, issuer
chains, choosing a provider, a PKCS#11 module that cannot be loaded. What needs no file: tests/unit/test_keys.py."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from pyhanko.sign import signers

from dossiers.errors import Forbidden, InvalidInput, NotFound
from signing.api import KeyProvider, TokenUnavailable
from signing.certs import issuer_chain
from signing.keys.loader import load_key_provider
from signing.keys.pkcs11 import Pkcs11Keys
from signing.keys.pkcs12 import Pkcs12Keys
from signing.pdf import bytes_reserved_for
from signing.pki import DevelopmentPki
from signing.validate import PadesValidator
from tests.unit.test_keys import COMMUNE, LABELS, LEADER, NOW, OTHER, _pdf, _sign

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    pki = DevelopmentPki(tmp_path_factory.mktemp("pki"))
    pki.ensure(
        [(COMMUNE, "Ủy ban nhân dân xã Demo 1"), (OTHER, "Ủy ban nhân dân xã Demo 2")],
        [(LEADER, "Phạm Văn Hùng", COMMUNE)],
        NOW,
    )
    return pki


# ---------------------------------------------------------------------- PKCS#12 keys


def test_pkcs12_keys_refuse_person_keys_without_reading_them(pki: DevelopmentPki) -> None:
    keys = Pkcs12Keys(pki)
    assert pki.has_key(f"person:{LEADER}")
    with pytest.raises(Forbidden):
        keys.signer_for(f"person:{LEADER}")
    with pytest.raises(Forbidden):
        keys.chain_for(f"person:{LEADER}")
    with pytest.raises(NotFound):
        keys.signer_for("agency:999.99.99.H99")
    assert keys.loads == 0


def test_pkcs12_keys_sign_and_cache(pki: DevelopmentPki) -> None:
    keys = Pkcs12Keys(pki)
    assert isinstance(keys, KeyProvider)
    key_id = f"agency:{COMMUNE}"
    signer = keys.signer_for(key_id)
    assert keys.signer_for(key_id) is signer
    assert keys.chain_for(key_id) == pki.chain_for(key_id)
    assert keys.loads == 1

    signed = _sign(_pdf(), signer)
    other = f"agency:{OTHER}"
    cosigned = _sign(signed, keys.signer_for(other), field="Seal2", reserved=bytes_reserved_for(keys.chain_for(other)))
    report = PadesValidator(pki.trust_roots()).validate(cosigned)
    assert report.indication == "TOTAL-PASSED", report
    assert [check.field_name for check in report.signatures] == ["Seal", "Seal2"]
    assert keys.loads == 2


def test_pkcs12_keys_load_each_key_once_across_threads(pki: DevelopmentPki) -> None:
    keys = Pkcs12Keys(pki)
    barrier = threading.Barrier(8)
    got: list[signers.Signer] = []

    def work() -> None:
        barrier.wait(timeout=30)
        got.append(keys.signer_for(f"agency:{COMMUNE}"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(got) == 8
    assert len({id(signer) for signer in got}) == 1
    assert keys.loads == 1


def test_pkcs12_keys_reload_a_reissued_key(tmp_path: Path) -> None:
    pki = DevelopmentPki(tmp_path / "pki")
    pki.ensure([(COMMUNE, "Ủy ban nhân dân xã Demo 1")], [], NOW)
    keys = Pkcs12Keys(pki)
    key_id = f"agency:{COMMUNE}"
    before = keys.chain_for(key_id)[0]
    pki.issue(key_id, "Ủy ban nhân dân xã Demo 1", not_before=NOW, not_after=NOW + dt.timedelta(days=30), replace=True)
    after = keys.chain_for(key_id)[0]
    assert after.serial_number != before.serial_number
    assert keys.loads == 2
    signed = _sign(_pdf(), keys.signer_for(key_id))
    assert PadesValidator(pki.trust_roots()).validate(signed).indication == "TOTAL-PASSED"
    keys.forget()
    keys.signer_for(key_id)
    assert keys.loads == 3


def test_issuer_chain_orders_issuers(pki: DevelopmentPki) -> None:
    leaf, agency_ca, root = pki.chain_for(f"agency:{COMMUNE}")
    other = pki.certificate(f"agency:{OTHER}")
    assert issuer_chain(leaf, [root, other, leaf, agency_ca]) == [agency_ca, root]
    assert issuer_chain(leaf, [root]) == []


# ---------------------------------------------------------------------- PKCS#11: a module that cannot be loaded


def test_pkcs11_module_that_cannot_be_loaded_is_unavailable() -> None:
    pytest.importorskip("pkcs11")
    with (
        Pkcs11Keys("/nonexistent/libpkcs11.so", "motcua", "1234", LABELS) as keys,
        pytest.raises(TokenUnavailable) as raised,
    ):
        keys.signer_for(f"agency:{COMMUNE}")
    assert "/nonexistent/libpkcs11.so" in raised.value.message_en
    assert raised.value.kind == "unavailable"


# ---------------------------------------------------------------------- choosing a provider

FULL = {
    "MOTCUA_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
    "MOTCUA_PKCS11_TOKEN": "motcua",
    "MOTCUA_PKCS11_PIN": "1234",
    "MOTCUA_PKCS11_KEYS": '{"000.00.31.H99": "seal"}',
}


def test_load_key_provider_defaults_to_the_pkcs12_files(pki: DevelopmentPki) -> None:
    assert isinstance(load_key_provider({}, pki=pki), Pkcs12Keys)
    assert isinstance(load_key_provider({name: "" for name in FULL}, pki=pki), Pkcs12Keys)  # empty = unset
    with pytest.raises(InvalidInput):
        load_key_provider({})


def test_load_key_provider_picks_pkcs11(pki: DevelopmentPki) -> None:
    provider = load_key_provider(FULL, pki=pki)
    assert isinstance(provider, Pkcs11Keys)
    assert provider.key_labels == {COMMUNE: "seal"}
    assert provider.token_label == "motcua"
    explicit = load_key_provider(FULL, token="other", keys={OTHER: "seal-2"})
    assert isinstance(explicit, Pkcs11Keys)
    assert (explicit.token_label, explicit.key_labels) == ("other", {OTHER: "seal-2"})


def test_load_key_provider_refuses_a_partial_pkcs11_configuration(pki: DevelopmentPki) -> None:
    partial = {"MOTCUA_PKCS11_MODULE": FULL["MOTCUA_PKCS11_MODULE"]}
    with pytest.raises(InvalidInput) as raised:
        load_key_provider(partial, pki=pki)
    assert raised.value.details["missing"] == ["MOTCUA_PKCS11_TOKEN", "MOTCUA_PKCS11_PIN", "MOTCUA_PKCS11_KEYS"]
    for keys in ("{not json", '["seal"]', '{"000.00.31.H99": ""}'):
        with pytest.raises(InvalidInput):
            load_key_provider({**FULL, "MOTCUA_PKCS11_KEYS": keys}, pki=pki)
