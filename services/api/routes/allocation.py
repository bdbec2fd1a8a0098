"""Admin: split a goal for a subtree into targets for its units (docs/targets.md), see it, apply it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.api.allocation import AllocatedFigure, Status, allocate, starts_below
from services.api.deps import AdminRoute, Context
from services.api.errors import ApiError, json_response, not_found
from services.api.models import NOT_JSON, Error, Number
from services.api.periods import PERIOD_DESCRIPTION, PERIOD_PATTERN, require_published
from services.api.queries import hcm_today
from services.api.routes.admin import RESPONSES, CodePath, write_records
from services.api.targets import TARGET_PERIOD, Target, encode_target

router = APIRouter(prefix="/v1/admin/allocations", tags=["admin"], route_class=AdminRoute,
                   responses=RESPONSES)


class AllocationIn(BaseModel):
    """A goal for the subtree at the path's unit, shared between the units directly below it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"figure": "online_rate", "goal": 0.8, "reference_period": "year_to_date", "target_period": "2027",
         "base": 0.1}]})
    figure: AllocatedFigure = Field(default="online_rate", description="a rate between 0 and 1")
    goal: Number = Field(ge=0, le=1, allow_inf_nan=False, examples=[0.8],
                        description="the filing-weighted result the units must reach together")
    reference_period: str = Field(default="year_to_date", pattern=PERIOD_PATTERN, examples=["2026-Q3"],
                                  description="the figures the starts are read from: " + PERIOD_DESCRIPTION)
    target_period: str = Field(pattern=TARGET_PERIOD.pattern, examples=["2027"],
                               description="the year, quarter or month the targets are for")
    base: Number = Field(default=0.1, gt=0, le=10, allow_inf_nan=False, examples=[0.1],
                        description="β: the part of the increment every unit gets whatever its start")


class AllocatedUnit(BaseModel):
    code: str = Field(examples=["31.S05"])
    name: str | None = Field(examples=["Sở Tư pháp"])
    level: str | None = Field(examples=["department"])
    start: float | None = Field(description="the rate over the reference period; null without filings",
                                examples=[0.62])
    filings: int = Field(description="the filings behind the start (the rate's denominator)", examples=[1200])
    share: float = Field(description="this unit's share of all the units' filings", examples=[0.12])
    target: float = Field(examples=[0.71])


class AllocationOut(BaseModel):
    unit_code: str = Field(examples=["31"])
    figure: str = Field(examples=["online_rate"])
    goal: float = Field(examples=[0.8])
    reference_period: str = Field(examples=["year_to_date"])
    target_period: str = Field(examples=["2027"])
    base: float = Field(examples=[0.1])
    status: Status = Field(description="allocated; already_met (every target is the unit's start); "
                                       "no_filings (every target is the goal)")
    k: float = Field(description="the increment factor: target = min(1, start + k·(base + start))",
                     examples=[0.23])
    current: float | None = Field(description="the units' filing-weighted start", examples=[0.66])
    result: float | None = Field(description="the units' filing-weighted target", examples=[0.8])
    units: list[AllocatedUnit]


@router.get("/{code}", summary="Propose targets that meet a goal for a subtree", response_model=AllocationOut,
            responses={404: {"model": Error, "description": "No such unit, or a reference period not "
                                                           "published (too old)."},
                       422: {"model": Error, "description": "A bad parameter, or no units below this one."}})
async def propose(code: CodePath, query: Annotated[AllocationIn, Query()], context: Context) -> Response:
    """Each unit directly below `code` is asked for its start plus an increment that grows with its start,
    capped at 1, so that their filing-weighted result is the goal. Nothing is written."""
    return json_response(200, _proposal(context, code, query))


@router.post("/{code}", summary="Set the proposed targets", response_model=AllocationOut,
             responses={**NOT_JSON, 404: {"model": Error, "description": "No such unit, or a reference "
                                                                       "period not published (too old)."},
                        422: {"model": Error, "description": "A bad body, or no units below this one."}})
async def apply(code: CodePath, body: AllocationIn, context: Context) -> Response:
    """Computes the proposal from the figures of this moment and writes it: each unit's target, and the
    goal as the target of `code` itself, for `target_period`."""
    proposal = _proposal(context, code, body)
    targets = [Target(code, body.figure, body.target_period, body.goal),
               *(Target(u["code"], body.figure, body.target_period, u["target"]) for u in proposal["units"])]
    status = await write_records(context, context.runtime.target_mirror,
                                 [(t.key, encode_target(t)) for t in targets])
    return json_response(status, proposal)


def _proposal(context: Context, code: str, request: AllocationIn) -> dict[str, Any]:
    state = context.runtime.state
    if code not in state.tree:
        raise not_found(code)
    require_published(request.reference_period, hcm_today(context.clock), "reference_period")
    starts = starts_below(state, code, request.figure, request.reference_period)
    if not starts:
        raise ApiError(422, "no_units", f"unit {code!r} has no units below it to share the goal",
                       unit_code=code)
    allocation = allocate(starts, request.goal, request.base)
    total = sum(s.filings for s in starts)
    units = []
    for s in starts:
        unit = state.tree.get(s.code)
        units.append({"code": s.code, "name": unit.name if unit else None,
                      "level": unit.level if unit else None, "start": s.start, "filings": s.filings,
                      "share": s.filings / total if total else 0.0, "target": allocation.targets[s.code]})
    return {"unit_code": code, **request.model_dump(), "status": allocation.status, "k": allocation.k,
            "current": allocation.current, "result": allocation.result, "units": units}
