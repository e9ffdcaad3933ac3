"""The JSON API for other tip lines and systems: ``/api/v1``, Bearer tokens only.

Each integration holds its own token (``defchain integration add``). The API never reads
cookies, so a signed-in browser cannot use it (and ``csrf_protect`` skips ``/api/``).
A report is acknowledged (201) only after the group commit holding it has returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from defchain.access import Label
from defchain.errors import DomainError
from defchain.intake import Integration, ReportInvalid, ReportKind, parse_report, service
from defchain.intake.models import Report
from defchain.intake.rules import Channel
from defchain.intake.schemas import (
    DirectThreatDetails,
    NicsDenialDetails,
    PurchaseAttemptDetails,
    ReferralDetails,
    ReporterIn,
    ReportIn,
    SarDetails,
    SubjectIn,
    TipDetails,
    WellnessCheckDetails,
)
from defchain.web.deps import Ctx, Db

router = APIRouter(prefix="/api/v1", tags=["reports"])
JSON = "application/json"
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="IntegrationToken",
    description="An integration token (`dci_...`) from `defchain integration add`.",
)


class ApiProblem(DomainError):
    """An API error: its status, a sentence, and the fields at fault."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        errors: dict[str, str],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.errors = errors
        self.headers = headers


class ApiError(BaseModel):
    """Every 4xx answer: what went wrong, and each field at fault (dotted path)."""

    detail: str = Field(examples=["The report is not valid."])
    errors: dict[str, str] = Field(
        default_factory=dict, examples=[{"details.denied_at": "must not be in the future"}]
    )


class ReportReceipt(BaseModel):
    """The acknowledgement: the report is committed to the database."""

    id: int = Field(examples=[1042])
    kind: ReportKind
    received_at: datetime
    status_url: str = Field(examples=["/api/v1/reports/1042"])

    @classmethod
    def of(cls, report: Report) -> ReportReceipt:
        return cls(
            id=report.id,
            kind=ReportKind(report.kind),
            received_at=report.received_at,
            status_url=f"/api/v1/reports/{report.id}",
        )


class ReportStatus(BaseModel):
    """Where a report this integration sent stands (no case details)."""

    id: int
    kind: ReportKind
    status: str = Field(examples=["new", "in_review", "closed"])
    received_at: datetime


class ReportPost(BaseModel):
    """The body of ``POST /api/v1/reports`` (documentation; ``parse_report`` validates).

    ``details`` holds the fields of the report's ``kind``; ``channel`` is set to ``api``
    by the server. ``external_id`` is your own id for the report: sending it again
    returns the stored report (200) instead of storing a second one.
    """

    kind: ReportKind
    narrative: str = Field("", max_length=20_000, description="Required for a tip.")
    location: str = Field("", max_length=500)
    occurred_at_text: str = Field("", max_length=200, description="When, in words.")
    danger_now: bool = False
    subject: SubjectIn = SubjectIn()
    reporter: ReporterIn | None = Field(None, description="Absent: anonymous.")
    details: (
        TipDetails
        | SarDetails
        | NicsDenialDetails
        | PurchaseAttemptDetails
        | WellnessCheckDetails
        | ReferralDetails
        | DirectThreatDetails
    ) = Field(description="The fields of the report's kind (one of these).")
    labels: list[Label] = []
    jurisdiction_id: int | None = Field(
        None, gt=0, description="Default: the jurisdiction of the integration's agency."
    )
    external_id: str | None = Field(None, max_length=100)


def _inline_schema() -> dict[str, Any]:
    """``ReportPost``'s JSON schema with every ``$ref`` resolved in place, for OpenAPI."""
    schema = ReportPost.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = defs[node["$ref"].rsplit("/", 1)[-1]]
                return walk({**target, **{k: v for k, v in node.items() if k != "$ref"}})
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


EXAMPLES = {
    "nics_denial": {
        "summary": "A NICS denial notification",
        "value": {
            "kind": "nics_denial",
            "external_id": "NTN-2026-000123",
            "details": {
                "denied_at": "2026-01-04T15:30:00Z",
                "transaction_number": "NTN-2026-000123",
                "denial_category": "protection_order",
                "purchaser": {"name": "Pat Example", "date_of_birth": "1990-02-03"},
                "dealer": {"name": "Example Sporting Goods", "address": "1 Main St, Example"},
                "agencies_notified": ["ATF field office"],
            },
        },
    },
    "tip": {
        "summary": "A tip forwarded from another tip line",
        "value": {
            "kind": "tip",
            "narrative": "A classmate posted that he will 'finish it' at the assembly Friday.",
            "subject": {"name": "Alex Example", "school": "Example High School"},
            "details": {"weapons": "yes", "date_or_target": "yes", "how_known": "saw the post"},
            "external_id": "tipline-884",
        },
    },
}

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ApiError, "description": text}
    for status, text in (
        (400, "The body is not UTF-8 JSON (`errors.body` says why)."),
        (401, "No valid integration token."),
        (413, "The body is larger than the server accepts."),
        (415, "The body is not `application/json`."),
        (422, "A field is missing or invalid; `errors` names each one."),
    )
}


STATUS_ERRORS: dict[int | str, dict[str, Any]] = {
    401: ERRORS[401],
    404: {"model": ApiError, "description": "No such report from this integration."},
    422: {"model": ApiError, "description": "The id is not a number."},
}


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(
        401,
        detail,
        {"authorization": "send 'Authorization: Bearer dci_...'"},
        headers={"WWW-Authenticate": 'Bearer realm="defchain"'},
    )


def current_integration(
    db: Db,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Integration:
    """The active integration whose token the request carries, or 401."""
    if credentials is None:
        raise _unauthorized("An integration token is required.")
    integration = service.integration_for_token(db, credentials.credentials.strip())
    if integration is None:
        raise _unauthorized("The integration token is not valid, or it was disabled.")
    service.touch_integration(integration, now=ctx.clock.now())
    return integration


ApiIntegration = Annotated[Integration, Depends(current_integration)]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object; 415, 400 or 422 naming what is wrong with it."""
    media, _, params = request.headers.get("content-type", "").partition(";")
    media = media.strip().lower()
    if media != "application/json":
        raise ApiProblem(
            415,
            f"Content-Type must be application/json, not '{media or 'none'}'.",
            {"content-type": "must be application/json"},
        )
    charset = params.partition("charset=")[2].split(";")[0].strip().strip('"').lower()
    if charset not in ("", "utf-8", "utf8"):
        raise ApiProblem(415, "The body must be UTF-8.", {"content-type": "charset must be utf-8"})
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiProblem(400, "body: must be UTF-8 JSON", {"body": "must be UTF-8 JSON"}) from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise ApiProblem(400, f"body: {problem}", {"body": problem}) from None
    except (ValueError, RecursionError) as exc:  # huge numbers, NaN, absurd nesting
        problem = f"not valid JSON: {exc}"[:200]
        raise ApiProblem(400, f"body: {problem}", {"body": problem}) from None
    if not isinstance(value, dict):
        raise ApiProblem(422, "body: must be a JSON object", {"body": "must be a JSON object"})
    return value


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The presented token, or 401 before the body is even read (it is checked later,
    inside the transaction that stores the report). Async: no thread-pool hop."""
    if credentials is None:
        raise _unauthorized("An integration token is required.")
    return credentials.credentials.strip()


@router.post(
    "/reports",
    status_code=201,
    summary="Forward a report",
    response_model=ReportReceipt,
    responses={
        200: {"model": ReportReceipt, "description": "Already stored (same `external_id`)."},
        **ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline_schema(), "examples": EXAMPLES}},
        }
    },
)
async def post_report(
    ctx: Ctx,
    token: Annotated[str, Depends(bearer_token)],
    body: Annotated[dict[str, Any], Depends(json_body)],
) -> Response:
    """Store a report of any kind; 201 once it is committed, 200 for a repeated
    `external_id`."""
    now = ctx.clock.now()
    # Validate before the transaction: nothing slow may run while the write lock is held.
    data: ReportIn | ReportInvalid
    try:
        data = parse_report({**body, "channel": Channel.API.value}, now=now)
    except ReportInvalid as exc:
        data = exc
    # Group commit: the process's writer thread stores this report with every other one
    # waiting, in one transaction; this returns after that transaction has committed.
    receipt, created = await ctx.writer.run_batched(_store_posts, _Post(token, data, now))
    # Serialized here: a returned Response skips FastAPI's second validation of the model.
    return Response(receipt.model_dump_json(), status_code=201 if created else 200, media_type=JSON)


@dataclass(frozen=True)
class _Post:
    """One API request, read and validated, waiting for the writer."""

    token: str
    data: ReportIn | ReportInvalid
    now: datetime


def _store_posts(
    session: Session, posts: list[_Post]
) -> list[tuple[ReportReceipt, bool] | DomainError]:
    """The writer's batch: check each token, then store every valid report at once."""
    outcomes: list[tuple[ReportReceipt, bool] | DomainError | None] = [None] * len(posts)
    entries: list[tuple[int, service.Incoming]] = []
    for index, post in enumerate(posts):
        integration = service.integration_for_token(session, post.token)
        if integration is None:
            outcomes[index] = _unauthorized(
                "The integration token is not valid, or it was disabled."
            )
        elif isinstance(post.data, ReportInvalid):
            outcomes[index] = ApiProblem(422, "The report is not valid.", post.data.errors)
        else:
            service.touch_integration(integration, now=post.now)
            source = service.Source(integration=integration)
            entries.append((index, service.Incoming(post.data, source, post.now)))
    stored = service.receive_batch(session, [entry for _, entry in entries])
    for (index, _), outcome in zip(entries, stored, strict=True):
        if isinstance(outcome, DomainError):
            outcomes[index] = outcome
        else:
            report, created = outcome
            outcomes[index] = (ReportReceipt.of(report), created)
    return [outcome for outcome in outcomes if outcome is not None]


@router.get(
    "/reports/{report_id}",
    summary="A report's status",
    response_model=ReportStatus,
    responses=STATUS_ERRORS,
)
def report_status(report_id: int, db: Db, integration: ApiIntegration) -> ReportStatus:
    """The status of a report this integration sent."""
    report = service.report_of_integration(db, integration=integration, report_id=report_id)
    return ReportStatus(
        id=report.id,
        kind=ReportKind(report.kind),
        status=report.status,
        received_at=report.received_at,
    )
