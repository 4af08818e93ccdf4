"""Reports for managers: the latency report (charts with their tables, CSV downloads) and
the live view. The numbers come from :mod:`respondr.domain.report_tables` and
:mod:`respondr.domain.live`; this module only reads the request and draws."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request

from respondr.domain import live, metrics, report_tables
from respondr.domain.errors import ValidationError
from respondr.domain.organisation import get_organisation
from respondr.extensions import db
from respondr.timeutil import utcnow
from respondr.web.layout import duration, org_zone
from respondr.web.permissions import requires

bp = Blueprint("reports", __name__, url_prefix="/reports")
READERS = ("manager", "admin")
DEFAULT_GROUPING = "channel"
HOUR = 3600.0


def tables_from_args(args: Any, *, only: str | None = None) -> report_tables.LatencyTables:
    """The report the query string asks for (``from``, ``to``, ``group_by``), every table
    or ``only`` one; bad values raise :class:`ValidationError` naming the field."""
    tz = get_organisation(db.session).timezone
    now = utcnow()
    period = report_tables.parse_period(
        args.get("from"), args.get("to"), tz=tz, today=now.astimezone(org_zone()).date()
    )
    group_by = args.get("group_by", DEFAULT_GROUPING)
    return report_tables.latency_tables(
        db.session, period, group_by=group_by or None, now=now, only=only
    )


def _hours(value: Any) -> float | None:
    return None if value is None else round(float(value) / HOUR, 2)


def chart_data(report: report_tables.LatencyTables) -> dict[str, Any]:
    """What reports.js draws, taken from the same tables the page prints."""
    tables = report.tables
    stages = tables["stages"].rows
    trend = tables["trend"].rows
    marks = [index for index, row in enumerate(trend) if row.get("policy_changes")]
    return {
        "stages": {
            "labels": [row["group"] for row in stages],
            "datasets": [
                {
                    "label": metrics.STAGE_LABELS[stage],
                    "data": [_hours(row[f"{stage}_mean_s"]) for row in stages],
                }
                for stage in metrics.TTFR_STAGES
            ],
            "unit": "hours (mean per answered message)",
            "type": "bar",
            "stacked": True,
        },
        "distribution": {
            "labels": [row["bucket"] for row in tables["distribution"].rows],
            "datasets": [
                {
                    "label": "Replies",
                    "data": [row["replies"] for row in tables["distribution"].rows],
                }
            ],
            "unit": "replies",
            "type": "bar",
        },
        "trend": {
            "labels": [row["week"] for row in trend],
            "datasets": [
                {"label": "TTFR median", "data": [_hours(row["ttfr_p50_s"]) for row in trend]},
                {"label": "TTFR p90", "data": [_hours(row["ttfr_p90_s"]) for row in trend]},
            ],
            "unit": "hours",
            "type": "line",
            "markers": [{"index": index, "label": "policy change"} for index in marks],
        },
        "queue_depth": {
            "labels": [row["at"] for row in tables["queue_depth"].rows],
            "datasets": [
                {
                    "label": "Replies waiting for approval",
                    "data": [row["waiting"] for row in tables["queue_depth"].rows],
                }
            ],
            "unit": "replies waiting",
            "type": "line",
        },
    }


def _shade(seconds: Any) -> int:
    """0 for no data, then 1–5 by the distribution's buckets (under 1 h … over 24 h)."""
    if seconds is None:
        return 0
    bounds = [ms / 1000 for ms in metrics.BUCKET_BOUNDS_MS]
    return 1 + sum(1 for bound in bounds if float(seconds) >= bound)


def grid(
    rows: Any, row_key: str, value_key: str, row_order: list[Any] | None = None
) -> list[tuple[Any, list[tuple[str, int]]]]:
    """A long table (one record per row × hour) as a row × 24-hour grid of (hours as
    text, shade) cells, for the heat maps."""
    cells: dict[Any, dict[int, Any]] = {}
    for row in rows:
        cells.setdefault(row[row_key], {})[int(row["hour"])] = row[value_key]
    order = row_order if row_order is not None else list(cells)
    return [
        (
            name,
            [
                (
                    f"{float(value) / HOUR:.1f}" if value is not None else "·",
                    _shade(value),
                )
                for value in (cells.get(name, {}).get(hour) for hour in range(24))
            ],
        )
        for name in order
    ]


def _cell(value: Any, kind: str) -> str:
    """A table cell for people (CSV and JSON keep the raw numbers)."""
    if value is None or value == "":
        return "—"
    if kind == "seconds":
        return duration(float(value))
    if kind == "share":
        return f"{float(value):.0%}"
    return str(value)


@bp.get("/latency")
@requires(*READERS)
def latency():
    try:
        report = tables_from_args(request.args)
    except ValidationError as error:
        return render_template(
            "reports/latency.html",
            report=None,
            error=error,
            args=request.args,
            groupings=metrics.GROUPINGS,
        ), 400
    return render_template(
        "reports/latency.html",
        report=report,
        error=None,
        args=request.args,
        groupings=metrics.GROUPINGS,
        charts=chart_data(report),
        cell=_cell,
        heat=grid(
            report.tables["heatmap"].rows,
            "weekday",
            "ttfr_p50_s",
            list(report_tables.WEEKDAYS),
        ),
        approver_heat=grid(report.tables["approver_hours"].rows, "approver", "wait_p90_s"),
        shade_labels=metrics.BUCKET_LABELS,
        csv_args={
            "from": report.period.start.isoformat(),
            "to": report.period.end.isoformat(),
            "group_by": report.group_by or "",
        },
    )


@bp.get("/latency.csv")
@requires(*READERS)
def latency_csv():
    name = request.args.get("table", "groups")
    try:
        report = tables_from_args(request.args, only=name)
    except ValidationError as error:
        return Response(f"{error.field}: {error.message}\n", 400, mimetype="text/plain")
    table = report.tables.get(name)
    if table is None:
        known = ", ".join(report_tables.TABLE_NAMES)
        return Response(f"table: use one of {known}\n", 400, mimetype="text/plain")
    period = report.period
    filename = f"respondr-{name}-{period.start.isoformat()}-to-{period.end.isoformat()}.csv"
    return Response(
        report_tables.table_csv(table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/live")
@requires(*READERS)
def live_view():
    view = live.live_view(db.session, now=utcnow())
    return render_template("reports/live.html", view=view)


@bp.get("/live/panel")
@requires(*READERS)
def live_panel():
    """The live figures alone, fetched again by reports.js every few seconds."""
    view = live.live_view(db.session, now=utcnow())
    return render_template("reports/_live_panel.html", view=view)
