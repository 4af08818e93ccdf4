"""``POST /api/v1/whatif``: the what-if as JSON, the same numbers as the page and
``respondr whatif``."""

from __future__ import annotations

from flask import jsonify

from respondr.web.api import api_requires, bp, json_body
from respondr.web.reports import READERS
from respondr.web.whatif import run


@bp.post("/whatif")
@api_requires(*READERS)
def whatif():
    """Body ``{"policy": name or slug, "from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}`` (``to``
    excluded; the last four weeks by default). Unknown policy or bad dates: 400 naming
    the field."""
    body = json_body()
    return jsonify(run(body.get("policy"), body.get("from"), body.get("to")).as_dict())
