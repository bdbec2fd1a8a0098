"""The agency codes of the national portal's sync and the units their dossiers count for."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.api.deps import Context
from services.api.errors import json_response
from services.api.models import AgencyList

router = APIRouter(prefix="/v1/agencies", tags=["units"])


@router.get("", summary="Agency codes and their units", response_model=AgencyList)
async def agencies(context: Context) -> Response:
    """Every mapped agency code, sorted; admins change them under /v1/admin/agencies."""
    book = context.runtime.agencies.units
    return json_response(200, {"agencies": [{"agency_code": a, "unit_code": book[a]} for a in sorted(book)]})
