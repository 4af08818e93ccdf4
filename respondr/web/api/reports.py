"""``GET /api/v1/reports/latency``: the latency report's tables as JSON, the same numbers
as the report page and its CSV downloads."""

from __future__ import annotations

from flask import jsonify, request

from respondr.web.api import api_requires, bp
from respondr.web.reports import READERS, tables_from_args


@bp.get("/reports/latency")
@api_requires(*READERS)
def latency_report():
    """``from`` and ``to`` (``YYYY-MM-DD`` in the organisation's timezone, ``to``
    excluded; the last four weeks by default) and ``group_by`` (empty for one row)."""
    return jsonify(tables_from_args(request.args).as_json())
