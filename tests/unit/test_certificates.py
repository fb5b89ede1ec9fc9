"""The checks an official's certificate passes before an administrator can register it (services.certificates),
and which decisions lead to the approver's own signature (services.tasks, read from the BPMN files)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization

from dossiers.errors import InvalidInput
from services.certificates import CertificateStatus, check_certificate, holds_private_key, read_certificates
from services.tasks import signature_follows
from tests.cert_factory import DAY, Authority, der, key_usage, name, p12, pem, pem_key, root
from workflows import BPMN_DIR

NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
LEADER = name("Phạm Văn Hùng", "Ủy ban nhân dân xã Hòa An", uid="lanhdao2.xa1")


@pytest.fixture(scope="module")
def trusted() -> Authority:
    return root("Gốc tin cậy thử nghiệm", NOW)


@pytest.fixture(scope="module")
def issuing(trusted: Authority) -> Authority:
    return trusted.sub_ca("CA cấp chứng thư cán bộ", NOW)


def problems_of(data: bytes, trusted: Authority, intermediates: list[Authority] | None = None) -> list[str]:
    check = check_certificate(data, [trusted.cert], [a.cert for a in intermediates or []], NOW)
    return [vi for vi, _ in check.problems]


def test_a_good_certificate_passes_and_its_chain_ends_at_the_trust_root(trusted: Authority, issuing: Authority) -> None:
    _, leaf = issuing.issue(LEADER, NOW)
    check = check_certificate(pem(leaf), [trusted.cert], [issuing.cert], NOW)
    assert check.passed, check.problems
    assert check.chain == (leaf, issuing.cert, trusted.cert)
    assert check.subject == "Phạm Văn Hùng — Ủy ban nhân dân xã Hòa An"
    assert "UID=lanhdao2.xa1" in check.subject_dn
    assert check.issuer == "CA cấp chứng thư cán bộ — Tổ chức chứng thực thử nghiệm"
    assert check.serial.replace(":", "").lstrip("0") == format(leaf.serial_number, "X").lstrip("0")
    assert [vi for vi, _ in check.key_usage] == ["Chữ ký số", "Chống chối bỏ"]
    assert check.anchor == "Gốc tin cậy thử nghiệm — Tổ chức chứng thực thử nghiệm"
    assert (check.not_before, check.not_after) == (leaf.not_valid_before_utc, leaf.not_valid_after_utc)


def test_der_and_a_pem_bundle_that_brings_its_intermediate_pass(trusted: Authority, issuing: Authority) -> None:
    _, leaf = issuing.issue(LEADER, NOW)
    assert check_certificate(der(leaf), [trusted.cert], [issuing.cert], NOW).passed
    bundled = check_certificate(pem(leaf, issuing.cert), [trusted.cert], [], NOW)  # the issuer comes with it
    assert bundled.passed and bundled.chain == (leaf, issuing.cert, trusted.cert)
    assert check_certificate(pem(issuing.cert, leaf), [trusted.cert], [], NOW).chain[0] == leaf  # any order


def test_an_expired_or_not_yet_valid_certificate_is_refused(trusted: Authority, issuing: Authority) -> None:
    _, expired = issuing.issue(LEADER, NOW, not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    assert problems_of(pem(expired), trusted, [issuing]) == [f"Chứng thư số đã hết hạn (ngày {(NOW - DAY):%d/%m/%Y})."]
    _, early = issuing.issue(LEADER, NOW, not_before=NOW + 3 * DAY, not_after=NOW + 400 * DAY)
    [problem] = problems_of(pem(early), trusted, [issuing])
    assert problem.startswith("Chứng thư số chưa có hiệu lực (từ ngày")


def test_a_certificate_whose_key_usage_does_not_allow_signing_is_refused(
    trusted: Authority, issuing: Authority
) -> None:
    _, encryption = issuing.issue(LEADER, NOW, usage=key_usage())  # keyEncipherment only
    [problem] = problems_of(pem(encryption), trusted, [issuing])
    assert "không cho phép ký số" in problem
    _, unstated = issuing.issue(LEADER, NOW, usage=None)
    assert any("không cho phép ký số" in p for p in problems_of(pem(unstated), trusted, [issuing]))
    _, non_repudiation_only = issuing.issue(LEADER, NOW, usage=key_usage(non_repudiation=True))
    assert problems_of(pem(non_repudiation_only), trusted, [issuing]) == []


def test_a_certificate_under_a_foreign_root_or_without_its_issuer_is_refused(
    trusted: Authority, issuing: Authority
) -> None:
    foreign = root("Gốc lạ", NOW).sub_ca("CA lạ", NOW)
    _, stranger = foreign.issue(LEADER, NOW)
    check = check_certificate(pem(stranger), [trusted.cert], [issuing.cert, foreign.cert], NOW)
    assert not check.passed and check.chain == () and check.anchor is None
    assert "không do tổ chức chứng thực mà hệ thống tin cậy cấp" in check.problems[0][0]
    _, leaf = issuing.issue(LEADER, NOW)
    assert any("không lập được chuỗi" in p for p in problems_of(pem(leaf), trusted))  # issuing CA unknown
    # same names, another key: a forged issuer does not validate the signature
    forged = Authority(root("x", NOW).key, trusted.cert)
    _, forged_leaf = Authority(forged.key, issuing.cert).issue(LEADER, NOW)
    assert any("không lập được chuỗi" in p for p in problems_of(pem(forged_leaf), trusted, [issuing]))


def test_an_expired_issuing_ca_or_a_ca_certificate_is_refused(trusted: Authority) -> None:
    key, old_cert = trusted.issue(name("CA cũ"), NOW, not_before=NOW - 900 * DAY, not_after=NOW - DAY, ca=True)
    old = Authority(key, old_cert)
    _, leaf = old.issue(LEADER, NOW, not_before=NOW - 10 * DAY)
    assert any("CA cũ" in p and "đã hết hạn" in p for p in problems_of(pem(leaf), trusted, [old]))
    sub = trusted.sub_ca("CA con", NOW)
    assert any("không phải chứng thư ký số của cán bộ" in p for p in problems_of(pem(sub.cert), trusted))


def test_a_file_with_a_private_key_is_refused_whatever_its_form(trusted: Authority, issuing: Authority) -> None:
    key, leaf = issuing.issue(LEADER, NOW)
    encrypted = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"mat-khau-thiet-bi"),
    )
    plain_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    files = {
        "pkcs12": p12(key, leaf, [issuing.cert], b"mat-khau-thiet-bi"),
        "pem certificate and key": pem(leaf) + pem_key(key),
        "pem key": pem_key(key),
        "encrypted der key": encrypted,
        "der key": plain_der,
    }
    for what, data in files.items():
        assert holds_private_key(data), what
        with pytest.raises(InvalidInput) as refused:
            check_certificate(data, [trusted.cert], [issuing.cert], NOW)
        assert refused.value.details["reason"] == "private_key", what
        assert refused.value.message_vi.startswith("Tệp tải lên có chứa khóa bí mật"), what
    assert not holds_private_key(pem(leaf)) and not holds_private_key(der(leaf))


def test_what_is_not_a_certificate_is_refused() -> None:
    for data in (b"", b"  \n", b"hello", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        with pytest.raises(InvalidInput):
            read_certificates(data)
    with pytest.raises(InvalidInput, match="too large"):
        read_certificates(b"0" * (64 * 1024 + 1))


def test_several_officials_in_one_file_are_refused(trusted: Authority, issuing: Authority) -> None:
    _, one = issuing.issue(LEADER, NOW)
    _, other = issuing.issue(name("Người khác"), NOW)
    with pytest.raises(InvalidInput, match="several end-entity"):
        check_certificate(pem(one, other), [trusted.cert], [issuing.cert], NOW)


def test_what_an_official_without_a_valid_certificate_reads() -> None:
    missing = CertificateStatus("lanhdao2.xa1", "missing")
    assert not missing.valid
    assert missing.notice()[0].startswith("Bạn chưa có chứng thư số hợp lệ để ký kết quả. Đề nghị quản trị viên")
    expired = CertificateStatus("lanhdao2.xa1", "expired", NOW - 400 * DAY, dt.datetime(2026, 1, 31, 20, tzinfo=dt.UTC))
    assert expired.notice()[0].startswith("Chứng thư số của bạn đã hết hạn ngày 01/02/2026.")  # Vietnam's day
    assert CertificateStatus("x", "valid", NOW, NOW + DAY).valid


@pytest.mark.parametrize(
    ("bpmn", "decision", "signs"),
    [
        ("household_business_registration.bpmn", "approve", True),
        ("household_business_registration.bpmn", "return", False),
        ("birth_registration.bpmn", "approve", True),
        ("construction_permit.bpmn", "approve", True),
        ("land_registration.bpmn", None, True),  # the approval has no decision: the certificate is prepared next
        ("generic_procedure.bpmn", "approve", False),  # no personal signature in the generic procedure
    ],
)
def test_which_approvals_lead_to_the_approvers_signature(bpmn: str, decision: str | None, signs: bool) -> None:
    variables = {} if decision is None else {"decision": decision}
    assert signature_follows(BPMN_DIR / bpmn, "approve", variables) is signs
    assert signature_follows(BPMN_DIR / bpmn, "review", {"decision": "approve"}) is False  # the leader approves next
