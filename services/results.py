"""The one result registry: how any procedure's result document is prepared (rendered, its fields created, the
approving leader's personal signature pending on their device) and sealed (numbered in the agency's register,
dated, the agency seal applied) — the Decree 30/2020 order of work.

What a procedure's result is, is data: its catalogue entry's ``result`` key names either a template
(``{"template": "1.001612.json"}``: a declarative template from the results directories, rendered by
:mod:`documents.result_templates` — no Python for the procedure) or a built-in renderer
(``{"renderer": "birth_certificate"}``: a paper with a layout of its own, registered here by name). An entry
without the key issues no result document. The workers' generic topics ``result.prepare`` and ``result.seal``
(:mod:`workers.result_handlers`) and the leader's draft (:mod:`services.result_drafts`) all go through here.

Idempotent as the papers it replaces: the pending signature (``{code}/result/leader``), the register number
(kept per dossier) and the issued result (``{code}/result``) each have a key derived from the dossier code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from documents.result_templates import (
    DATE_BOX,
    LEADER_BOX,
    NUMBER_BOX,
    ResultTemplate,
    load_template,
    preview,
    render_result,
)
from dossiers.calendar import VN_TZ
from dossiers.errors import NotFound
from dossiers.ports import Clock, DocumentStore, Exchange, SignatureRequest
from services.civil_status import RESULTS as CIVIL_RESULTS
from services.civil_status import CivilStatusPapers
from services.exchange import PartnerDirectory
from services.issuing import IssueRequest
from services.joint_work import LAND_SERIES, PERMIT_SERIES, JointProcedures
from services.paperwork import Paperwork, approving_leader, department_name, place_name
from services.shop import OneStopShop
from signing.appearance import development_signature_png, leader_style, seal_box
from signing.fields import LEADER_FIELD, fill_number_and_date, prepare_fields

Step = Callable[[str, Mapping[str, Any]], str]
"""A result step: given the dossier code and the process variables, returns an id (pending signature, document)."""

BUILT_IN_RENDERERS = frozenset(
    {"birth_certificate", "marriage_certificate", "certified_copy", "construction_permit", "land_certificate"}
)
"""The names a catalogue entry's ``"result": {"renderer": …}`` may give (:func:`built_ins`)."""


@dataclass(frozen=True)
class BuiltIn:
    """A result paper with a layout of its own: its two steps and the register it is numbered in."""

    prepare: Step
    seal: Step
    series: str
    number: Callable[[int, int], str]  # (serial, year) → the number as the register shows it


def _plain_number(series: str) -> Callable[[int, int], str]:
    return lambda serial, year: f"{serial:02d}/{series}"


def _civil_number(process_key: str) -> Callable[[int, int], str]:
    return lambda serial, year: CIVIL_RESULTS[process_key].number(serial, year)


def built_ins(
    shop: OneStopShop,
    paperwork: Paperwork,
    clock: Clock,
    store: DocumentStore,
    exchange: Exchange,
    partners: PartnerDirectory | None = None,
    actor: str = "system:worker",
) -> dict[str, BuiltIn]:
    """The built-in renderers by name: the civil status papers and the joint procedures' results."""
    civil = CivilStatusPapers(shop, paperwork, clock, store, actor)
    joint = JointProcedures(shop, paperwork, exchange, partners or PartnerDirectory(), clock, actor)
    return {
        "birth_certificate": BuiltIn(
            civil.prepare_birth_certificate, civil.seal, "SO-KS", _civil_number("birth_registration")
        ),
        "marriage_certificate": BuiltIn(
            civil.prepare_marriage_certificate, civil.seal, "SO-KH", _civil_number("marriage_registration")
        ),
        "certified_copy": BuiltIn(civil.prepare_certified_copy, civil.seal, "SCT/BS", _civil_number("certified_copy")),
        "construction_permit": BuiltIn(
            joint.prepare_permit, joint.seal_permit, PERMIT_SERIES, _plain_number(PERMIT_SERIES)
        ),
        "land_certificate": BuiltIn(
            joint.prepare_land_certificate, joint.seal_land_certificate, LAND_SERIES, _plain_number(LAND_SERIES)
        ),
    }


class ResultRegistry:
    """The results of one installation: templates from ``template_dirs`` (an agency's directory first, then the
    shipped one), built-in renderers by name."""

    def __init__(
        self,
        shop: OneStopShop,
        paperwork: Paperwork,
        clock: Clock,
        template_dirs: Sequence[Path],
        renderers: Mapping[str, BuiltIn] | None = None,
        actor: str = "system:worker",
    ) -> None:
        self.shop = shop
        self.paperwork = paperwork
        self.clock = clock
        self.template_dirs = [Path(d) for d in template_dirs]
        self.renderers: dict[str, BuiltIn] = dict(renderers or {})
        self.actor = actor
        self._templates: dict[Path, tuple[float, ResultTemplate]] = {}
        self._lock = threading.Lock()

    def register(self, name: str, renderer: BuiltIn) -> None:
        """Add a built-in renderer (a paper with a layout of its own)."""
        self.renderers[name] = renderer

    # ------------------------------------------------------------------ what a procedure's result is

    def template_path(self, name: str) -> Path:
        for directory in self.template_dirs:
            path = directory / name
            if path.is_file():
                return path
        raise NotFound(
            f"Không tìm thấy mẫu văn bản kết quả {name}.",
            f"Result template {name} is in none of {', '.join(str(d) for d in self.template_dirs)}.",
            template=name,
        )

    def template(self, name: str, form_fields: Sequence[str] | None = None) -> ResultTemplate:
        """The template file ``name``, parsed once per change of the file (refused with its problems)."""
        path = self.template_path(name)
        mtime = path.stat().st_mtime
        with self._lock:
            cached = self._templates.get(path)
            if cached is not None and cached[0] == mtime and form_fields is None:
                return cached[1]
        template = load_template(path, form_fields)
        with self._lock:
            self._templates[path] = (mtime, template)
        return template

    def kind_of(self, spec: Any) -> ResultTemplate | BuiltIn | None:
        """A procedure's result: its template, its built-in renderer, or None (no result document)."""
        if spec is not None and spec.template:
            return self.template(spec.template)
        name = spec.renderer if spec is not None else None
        if not name:
            return None
        found = self.renderers.get(name)
        if found is None:
            raise NotFound(
                f"Không có bộ dựng văn bản kết quả '{name}'.",
                f"No built-in result renderer '{name}' is registered (known: {', '.join(sorted(self.renderers))}).",
                renderer=name,
            )
        return found

    @staticmethod
    def kind_name(entry: Any) -> str | None:
        """``"template"``, ``"built_in"`` or None (no result document) for a catalogue entry, without loading it."""
        spec = entry.result
        if spec is not None and spec.template:
            return "template"
        return "built_in" if spec is not None and spec.renderer else None

    def result_of(self, code: str) -> ResultTemplate | BuiltIn | None:
        row = self.shop.dossier_row(code)
        entry = self.shop.entry(row.procedure_code)
        return self.kind_of(entry.result)

    def _required(self, code: str) -> ResultTemplate | BuiltIn:
        found = self.result_of(code)
        if found is None:
            raise NotFound(
                "Thủ tục này không có văn bản kết quả.",
                f"The procedure of dossier {code} has no result document.",
                dossier_code=code,
            )
        return found

    def series_of(self, code: str) -> tuple[str, Callable[[int, int], str]] | None:
        """The register the dossier's result is numbered in, and how a number is shown; None: no result."""
        found = self.result_of(code)
        if found is None:
            return None
        return found.series, found.number

    def preview(self, procedure_code: str) -> bytes:
        """The procedure's result template filled with its sample data, as PDF (what an administrator checks
        before publishing); refused when the procedure's result is not a template or the template is invalid
        (:class:`documents.result_templates.ResultTemplateError`: every problem with its line and field)."""
        entry = self.shop.entry(procedure_code)
        if entry.result is None or not entry.result.template:
            raise NotFound(
                f"Thủ tục {procedure_code} không có mẫu văn bản kết quả để xem trước.",
                f"Procedure {procedure_code} has no result template to preview.",
                procedure_code=procedure_code,
            )
        template = self.template(entry.result.template, [f.key for f in entry.form_fields] or None)
        return preview(template, procedure_code=entry.code, procedure_name=entry.name)

    # ------------------------------------------------------------------ the two steps

    def prepare(self, code: str, variables: Mapping[str, Any]) -> str:
        """Render the result, create every field and prepare the approving leader's signature for their device;
        returns the pending signature's id."""
        found = self._required(code)
        if isinstance(found, BuiltIn):
            return found.prepare(code, variables)
        return self._prepare_template(code, variables, found)

    def seal(self, code: str, variables: Mapping[str, Any]) -> str:
        """Number the leader-signed result in the agency's register, fill its number and date, apply the agency
        seal; returns the issued result's document id."""
        found = self._required(code)
        if isinstance(found, BuiltIn):
            return found.seal(code, variables)
        return self._seal_template(code, variables, found)

    def values(self, code: str, leader: str | None) -> dict[str, Any]:
        """What a template's placeholders read: the dossier's values, then its form data."""
        row = self.shop.dossier_row(code)
        agency = self.shop.agency(row.agency_code, on=row.received_at.date())
        proc = self.shop.procedure_of(row)
        person = self.shop.accounts.get(leader) if leader and self.shop.accounts else None
        return {
            **dict(row.details or {}),
            "dossier_code": code,
            "procedure_code": proc.code,
            "procedure_name": proc.name,
            "applicant_name": row.applicant_name,
            "applicant_id_number": row.applicant_id_number,
            "applicant_phone": row.applicant_phone,
            "applicant_email": getattr(row, "applicant_email", None),
            "agency_name": agency.name,
            "department_name": self._department(agency, proc.department_kinds("specialist")),
            "place_name": place_name(agency),
            "issued_date": self.clock.now().astimezone(VN_TZ).date(),
            "signer_name": person.full_name if person else (leader or ""),
        }

    @staticmethod
    def _department(agency: Any, kinds: tuple[str, ...]) -> str:
        """The specialist department handling the procedure (the kinds its entry names), else the agency's first."""
        for code in agency.departments_handling("specialist", kinds) or agency.departments_for_role("specialist"):
            department = agency.department(code)
            if department is not None:
                return str(department.name)
        return department_name(agency, "specialist", "Bộ phận chuyên môn")

    def _prepare_template(self, code: str, variables: Mapping[str, Any], template: ResultTemplate) -> str:
        leader = approving_leader(variables)
        values = self.values(code, leader)
        issuer = self.paperwork.issuer
        pdf = prepare_fields(
            issuer.render(lambda: render_result(template, values), "result"),
            leader_box=LEADER_BOX,
            number_box=NUMBER_BOX,
            date_box=DATE_BOX,
            seal_box=seal_box(LEADER_BOX) if template.sealed else None,
        )
        return self.paperwork.signatures.request(
            code,
            leader,
            pdf,
            SignatureRequest(
                signer=f"person:{leader}", field_name=LEADER_FIELD, reason=template.sign_reason, certify=True
            ),
            document_kind="result",
            idempotency_key=f"{code}/result/leader",
            appearance=leader_style(
                development_signature_png(str(values["signer_name"]), cache_dir=self.paperwork.images_dir)
            ),
        )

    def _seal_template(self, code: str, variables: Mapping[str, Any], template: ResultTemplate) -> str:
        issuer = self.paperwork.issuer
        existing = issuer.existing(f"{code}/result")
        if existing is not None:
            return existing
        row = self.shop.dossier_row(code)
        agency = self.shop.agency(row.agency_code, on=row.received_at.date())
        signed = self.paperwork.leader_signed_result(code)
        now = self.clock.now().astimezone(VN_TZ)
        serial = self.paperwork.register_number(agency.code, now.year, template.series, once_for=code)
        number = template.number(serial, now.year)
        filled = fill_number_and_date(signed, number, template.date_text(place_name(agency), now.date()))
        clerk = str(variables.get("register_number_by") or "").strip() or self.actor
        self.shop.record("document.numbered", clerk, code, number=number, series=template.series)
        return issuer.issue(
            IssueRequest(
                dossier_code=code,
                kind="result",
                filename=f"{code}-{template.filename}.pdf",
                idempotency_key=f"{code}/result",
                render=lambda: filled,
                signatures=(self.paperwork.agency_seal(agency, template.seal_reason),),
                fields_ready=True,
            ),
            self.actor,
        )
