"""Admin writes: units of the registry and targets, on their compacted topics (key = the identity).

A write answers once Kafka has it and this replica's mirror has applied it, so a read right after
it on the same replica sees it; other replicas see it within their mirror's lag.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from services.api.deps import AdminRoute, Context
from services.api.errors import ApiError, json_response, not_found
from services.api.models import (
    BODY_LIMITS,
    NOT_JSON,
    Agency,
    AgencyIn,
    Error,
    Figure,
    Target,
    TargetIn,
    Unit,
    UnitIn,
)
from services.api.registry import UNIT_CODE, encode_unit
from services.api.targets import TARGET_PERIOD, encode_target, target_key, target_value
from services.api.targets import Target as TargetValue
from services.api.tree import MAX_DEPTH, UnitInfo
from services.api.writer import KafkaUnavailable
from services.common.topic_mirror import TopicMirror
from services.contract.agencies import AGENCY_CODE, encode_agency

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "No admin key."},
    403: {"model": Error, "description": "Wrong admin key."},
    429: {"model": Error, "description": "Too many admin requests from this address; see Retry-After."},
    **BODY_LIMITS,
    202: {"description": "Kafka has the write; this replica does not show it yet."},
    503: {"model": Error, "description": "Kafka did not take the write; retry."},
}
router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=AdminRoute, responses=RESPONSES)

CodePath = Annotated[str, Path(pattern=UNIT_CODE.pattern, examples=["31.S03"])]
AgencyPath = Annotated[str, Path(pattern=AGENCY_CODE.pattern, examples=["000.00.12.H31"],
                                 description="the agency's code in the national portal's directory")]
PeriodPath = Annotated[str, Path(pattern=TARGET_PERIOD.pattern, description="a year, quarter or month",
                                 examples=["2026", "2026-Q1", "2026-03"])]


@router.put("/units/{code}", summary="Create or replace a unit", response_model=Unit,
            responses={**NOT_JSON,
                       422: {"model": Error, "description": "Bad body, or a parent that makes a cycle or a "
                                                            f"tree more than {MAX_DEPTH} levels deep."}})
async def put_unit(code: CodePath, body: UnitIn, context: Context) -> Response:
    """The unit with this code; its parent need not exist yet (it shows as a root until it does)."""
    runtime = context.runtime
    parent = body.parent_code
    if parent is not None and (parent == code or runtime.tree.would_cycle(code, parent)):
        raise ApiError(422, "invalid_parameter", f"parent_code {body.parent_code!r} is {code!r} or below it",
                       parameter="parent_code")
    depth = runtime.tree.depth_under(code, parent)
    if depth > MAX_DEPTH:
        raise ApiError(422, "invalid_parameter", f"parent_code: the tree would be {depth} levels deep; "
                       f"at most {MAX_DEPTH}", parameter="parent_code")
    unit = UnitInfo(code, body.name, body.level, body.parent_code)
    status = await _write(context, runtime.registry, code, encode_unit(unit))
    return json_response(status, unit.as_dict())


@router.delete("/units/{code}", summary="Delete a unit", status_code=204, responses={404: {"model": Error}})
async def delete_unit(code: CodePath, context: Context) -> Response:
    """Writes a tombstone; the unit's children stay, as roots, until they are moved or deleted."""
    if code not in context.runtime.tree:
        raise not_found(code)
    status = await _write(context, context.runtime.registry, code, None)
    return Response(status_code=204 if status == 200 else 202)


@router.put("/agencies/{agency_code}", summary="Map an agency code to a unit", response_model=Agency,
            responses={**NOT_JSON, 404: {"model": Error, "description": "No such unit in the registry."}})
async def put_agency(agency_code: AgencyPath, body: AgencyIn, context: Context) -> Response:
    """Dossiers the national portal's sync sends for this agency count for this unit."""
    if body.unit_code not in context.runtime.tree:
        raise not_found(body.unit_code)
    status = await _write(context, context.runtime.agency_mirror, agency_code, encode_agency(body.unit_code))
    return json_response(status, {"agency_code": agency_code, "unit_code": body.unit_code})


@router.delete("/agencies/{agency_code}", summary="Unmap an agency code", status_code=204,
               responses={404: {"model": Error}})
async def delete_agency(agency_code: AgencyPath, context: Context) -> Response:
    """From then on ingest refuses this agency's dossiers."""
    if context.runtime.agencies.unit_of(agency_code) is None:
        raise ApiError(404, "unknown_agency", f"no agency {agency_code!r}")
    status = await _write(context, context.runtime.agency_mirror, agency_code, None)
    return Response(status_code=204 if status == 200 else 202)


@router.put("/targets/{code}/{figure}/{period}", summary="Set a target", response_model=Target,
            responses={**NOT_JSON, 404: {"model": Error},
                       422: {"model": Error, "description": "Not a number, or out of the figure's range."}})
async def put_target(code: CodePath, figure: Figure, period: PeriodPath, body: TargetIn,
                     context: Context) -> Response:
    """The unit's target for a figure over a year, quarter or month (rates as 0..1, e.g. 0.6)."""
    if code not in context.runtime.tree:
        raise not_found(code)
    try:
        value = target_value(figure, body.value)
    except ValueError as exc:
        raise ApiError(422, "invalid_parameter", f"value: {exc}", parameter="value") from None
    target = TargetValue(code, figure, period, value)
    status = await _write(context, context.runtime.target_mirror, target.key, encode_target(target))
    return json_response(status, target.as_dict())


@router.delete("/targets/{code}/{figure}/{period}", summary="Delete a target", status_code=204,
               responses={404: {"model": Error}})
async def delete_target(code: CodePath, figure: Figure, period: PeriodPath, context: Context) -> Response:
    """Removes the target; the unit falls back to a wider period's target, if it has one."""
    key = target_key(code, figure, period)
    if key not in context.runtime.targets.by_key:
        raise ApiError(404, "unknown_target", f"no target {key!r}")
    status = await _write(context, context.runtime.target_mirror, key, None)
    return Response(status_code=204 if status == 200 else 202)


async def _write(context: Context, mirror: TopicMirror, key: str, value: bytes | None) -> int:
    """Write one record; 200 once this replica shows it, 202 when Kafka has it but the view is slow."""
    return await write_records(context, mirror, [(key, value)])


async def write_records(context: Context, mirror: TopicMirror,
                        records: list[tuple[str, bytes | None]]) -> int:
    """Write the records; 200 once this replica shows them all, 202 when Kafka has them but the view
    is slow."""
    runtime = context.runtime
    timeout = context.settings.write_timeout_s
    try:
        written = await runtime.writer.write(mirror.topic, records)
    except KafkaUnavailable as exc:
        raise ApiError(503, "kafka_unavailable", str(exc), headers={"Retry-After": "5"}) from None
    last: dict[int, int] = {}
    for partition, offset in written:
        last[partition] = max(offset, last.get(partition, -1))
    for partition, offset in last.items():
        if not await mirror.wait_past(partition, offset, timeout):
            return 202
    return 200
