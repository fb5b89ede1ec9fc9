"""Statistics (QĐ 766/QĐ-TTg indicators) for leaders, auditors and admins, their CSV/XLSX export, and the
citizen's satisfaction rating of a resolved dossier. Mounted by ``api.app.create_app``."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Runtime, role_guard
from api.downloads import content_disposition
from api.openapi import CSV, XLSX, problems
from api.public_results import PublicLookupLimit
from dossiers.model import Person, Role
from dossiers.statistics import UNASSIGNED, UNASSIGNED_LABEL, GroupBy, Indicators, Report
from services import statistics as stats

STATISTICS_ROLES = (Role.LEADER, Role.AUDITOR, Role.ADMIN)
Statistician = Annotated[Person, Depends(role_guard(STATISTICS_ROLES))]


class RatingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=9, max_length=20, description="The applicant's personal ID number.")
    level: int = Field(ge=1, le=5, description="1 very dissatisfied, 2 dissatisfied, 3 neutral, 4 satisfied, 5 very.")
    comment: str | None = Field(None, max_length=2000)


def _indicators(ind: Indicators) -> dict[str, Any]:
    shares = {
        name: {
            "numerator": s.numerator,
            "denominator": s.denominator,
            "percent": float(s.percent) if s.percent is not None else None,
        }
        for name, s in ind.shares().items()
    }
    mean = ind.mean_rating
    return {
        "carried_over": ind.carried_over,
        "received": ind.received,
        "in_handling": ind.in_handling,
        "received_online": ind.received_online,
        "received_counter": ind.received_counter,
        "received_postal": ind.received_postal,
        "resolved": ind.resolved,
        "early": ind.early,
        "on_time": ind.on_time,
        "late": ind.late,
        "refused": ind.refused,
        "withdrawn": ind.withdrawn,
        "in_progress": ind.in_progress,
        "in_progress_within_due": ind.in_progress_within_due,
        "overdue": ind.overdue,
        "returned_by_post": ind.returned_by_post,
        "paid": ind.paid,
        "paid_online": ind.paid_online,
        "digitised_inputs": ind.digitised_inputs,
        "electronic_results": ind.electronic_results,
        "satisfaction": {
            "levels": {str(level): n for level, n in enumerate(ind.ratings, start=1)},
            "rated": ind.rated,
            "satisfied": ind.satisfied,
            "mean_level": round(float(mean), 2) if mean is not None else None,
        },
        "shares": shares,
    }


def _report(report: Report, names: dict[str, str], first: dt.date, last: dt.date, agency: str | None) -> dict[str, Any]:
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "period": {"start": report.period.start.isoformat(), "end_exclusive": report.period.end.isoformat()},
        "group_by": report.group_by.value,
        "agency": agency,
        "groups": [
            {
                "key": g.key or None,
                "name": names.get(g.key) or (UNASSIGNED_LABEL if g.key == UNASSIGNED else g.key),
                "indicators": _indicators(g.indicators),
            }
            for g in report.groups
        ],
        "total": _indicators(report.total),
    }


def statistics_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()
    shop = runtime.shop
    First = Annotated[dt.date, Query(alias="from", description="First day (Vietnam time), included.")]  # noqa: N806
    Last = Annotated[dt.date, Query(alias="to", description="Last day (Vietnam time), included.")]  # noqa: N806
    Agency = Annotated[str | None, Query(max_length=40, description="One agency (default: all you may see).")]  # noqa: N806

    @router.get("/api/statistics", tags=["statistics"])
    def read_statistics(
        person: Statistician,
        first: First,
        last: Last,
        group_by: GroupBy = GroupBy.AGENCY,
        agency: Agency = None,
    ) -> dict[str, Any]:
        """QĐ 766 indicators per agency, department or procedure for the days `from`…`to` (both included);
        the definitions and every share's denominator are in `dossiers/statistics.py`."""
        report, names = stats.read_statistics(runtime.db, shop, person, first, last, group_by, agency)
        return _report(report, names, first, last, agency)

    @router.get(
        "/api/statistics/export",
        tags=["statistics"],
        response_class=Response,
        responses={200: {"content": {CSV: {}, XLSX: {}}, "description": "CSV (UTF-8 with BOM) or XLSX."}},
    )
    def export_statistics(
        person: Statistician,
        first: First,
        last: Last,
        format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",  # noqa: A002 - the query parameter's name
        group_by: GroupBy = GroupBy.AGENCY,
        agency: Agency = None,
    ) -> Response:
        """The same figures as a spreadsheet with Vietnamese column headers (CSV: UTF-8 with BOM, for Excel)."""
        body, media_type, filename = stats.export_statistics(
            runtime.db, shop, person, first, last, group_by, agency, format
        )
        return Response(
            body,
            media_type=media_type,
            headers={"content-disposition": content_disposition(filename)},
        )

    @router.post(
        "/api/public/dossiers/{code}/rating",
        status_code=201,
        tags=["citizens"],
        dependencies=[PublicLookupLimit],
        responses=problems(429),
    )
    def rate_dossier(code: str, body: RatingRequest) -> dict[str, Any]:
        """The applicant rates a resolved dossier (QĐ 766: five levels), once, with the dossier's code and their
        ID number (no account needed). Its answer tells whether a code and an ID number belong together, so it
        shares the public lookup's limit per client address."""
        return stats.rate(runtime.db, runtime.clock, shop, code, body.id_number, body.level, body.comment)

    return router
