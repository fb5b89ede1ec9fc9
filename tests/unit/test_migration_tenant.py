"""Instances moved to Operaton keep appearing in their agency's task lists (Operaton filters on the variable)."""

from dossiers.ports import TENANT_VARIABLE
from workflows.migration import _with_tenant


def test_an_instance_started_before_the_tenant_variable_acts_for_its_dossiers_agency() -> None:
    old = {"dossier_code": "X-1", "agency_code": "000.00.31.H99"}
    assert _with_tenant(old) == old | {TENANT_VARIABLE: "000.00.31.H99"}
    assert TENANT_VARIABLE not in old  # the source is left as it was


def test_a_joint_step_keeps_the_agency_it_was_handed_to() -> None:
    moved = {"agency_code": "000.00.31.H99", TENANT_VARIABLE: "000.00.12.H99"}
    assert _with_tenant(moved) == moved
    assert _with_tenant({"dossier_code": "X-2"}) == {"dossier_code": "X-2"}
