"""The unit tree, one unit with its figures and targets, and figures rolled up over a subtree."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from services.api.deps import Context
from services.api.errors import json_response, not_found
from services.api.models import Error, Rollup, UnitDetail, UnitTreeOut
from services.api.periods import published_periods
from services.api.queries import hcm_today
from services.api.registry import ANY_UNIT_CODE

router = APIRouter(prefix="/v1/units", tags=["units"])

CodePath = Annotated[str, Path(description="a unit's code", pattern=ANY_UNIT_CODE.pattern,
                               examples=["31", "31.S03", "11311"])]


def code_query(description: str) -> Any:
    """A unit code as a query parameter (`root`, `parent`, `unit`): the same pattern as in a path."""
    return Query(description=description, pattern=ANY_UNIT_CODE.pattern, examples=["31"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Error, "description": "No such unit."}}


@router.get("", summary="The unit tree", response_model=UnitTreeOut, responses=NOT_FOUND)
async def tree(context: Context,
               root: Annotated[str | None, code_query("only the subtree at this unit")] = None) -> Response:
    """Every unit as a tree, or the subtree at `root`."""
    units = context.runtime.tree
    if root is not None and root not in units:
        raise not_found(root)
    roots = [root] if root is not None else units.roots()
    return Response(units.nested_json(roots), media_type="application/json")


@router.get("/{code}", summary="One unit: figures and targets", response_model=UnitDetail,
            responses=NOT_FOUND)
async def unit(code: CodePath, context: Context) -> Response:
    """The unit, its own figures for every period (not its children's), and its targets."""
    runtime = context.runtime
    info = runtime.tree.get(code)
    record = runtime.view.records.get(code)
    if info is None and record is None:
        raise not_found(code)
    figures = None if record is None else {k: record.get(k) for k in ("as_of", "day", "periods")}
    return json_response(200, {
        "unit": info.as_dict() if info else None,
        "children": runtime.tree.children(code),
        "figures": figures,
        "targets": [t.as_dict() for t in runtime.targets.for_unit(code)],
    })


@router.get("/{code}/rollup", summary="Figures summed over a subtree", response_model=Rollup,
            responses=NOT_FOUND)
async def rollup(code: CodePath, context: Context) -> Response:
    """Counters summed over the unit and every unit below it, then the rates of the sums, for the
    rolling periods and the calendar periods published today. While figures change, a rollup may be up
    to 0.25 s old."""
    runtime = context.runtime
    if code not in runtime.tree and code not in runtime.view.records:
        raise not_found(code)
    return json_response(200, runtime.rollups.get(code, published_periods(hcm_today(context.clock))))
