"""The rules API: validate, simulate (what-if) and activate a rules file; show the active one."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from leadpipe.scoring.adapters.lead_histories import LeadHistories
from leadpipe.scoring.adapters.rules_store import RulesCache, VersionConflict, activate
from leadpipe.scoring.domain.rules import Rules
from leadpipe.scoring.entrypoints.api.leads import sessions_of
from leadpipe.scoring.entrypoints.api.schemas import RulesText, RulesVersionOut
from leadpipe.scoring.rules.loader import RulesError, parse_rules
from leadpipe.scoring.service.views import WhatIfReport
from leadpipe.scoring.service.whatif import what_if
from leadpipe.shared.problems import problem_response


def _problems(error: RulesError) -> Response:
    """422 with every problem of the file: as ``errors`` (the path as the field) and, with the
    file named, as the extension member ``problems``."""
    return problem_response(
        422,
        [{"field": p.path, "reason": p.reason} for p in error.problems],
        detail=f"the rules file is invalid ({len(error.problems)} problem(s))",
        extensions={
            "problems": [
                {"file": p.file, "path": p.path, "reason": p.reason} for p in error.problems
            ]
        },
    )


def _out(rules: Rules, *, active: bool) -> RulesVersionOut:
    return RulesVersionOut(
        version=rules.version,
        framework=rules.framework,
        signals=len(rules.signals),
        active=active,
    )


def rules_router(cache: RulesCache) -> APIRouter:
    router = APIRouter(prefix="/v1/rules", tags=["rules"])

    @router.get("/active", response_model=RulesVersionOut)
    async def active_rules(request: Request) -> RulesVersionOut:
        async with sessions_of(request)() as session:
            return _out(await cache.active(session), active=True)

    @router.post("/validate", response_model=RulesVersionOut, responses={422: {}})
    async def validate(body: RulesText) -> RulesVersionOut | Response:
        try:
            return _out(parse_rules(body.text, body.file), active=False)
        except RulesError as exc:
            return _problems(exc)

    @router.post("/simulate", response_model=WhatIfReport, responses={422: {}})
    async def simulate(request: Request, body: RulesText) -> WhatIfReport | Response:
        try:
            draft = parse_rules(body.text, body.file)
        except RulesError as exc:
            return _problems(exc)
        async with sessions_of(request)() as session, session.begin():
            await session.connection(execution_options={"postgresql_readonly": True})
            return await what_if(await LeadHistories.of(session), draft)

    @router.post("/activate", response_model=RulesVersionOut, responses={409: {}, 422: {}})
    async def activate_rules(request: Request, body: RulesText) -> RulesVersionOut | Response:
        try:
            async with sessions_of(request)() as session, session.begin():
                rules = await activate(session, body.text, body.file, datetime.now(UTC))
        except RulesError as exc:
            return _problems(exc)
        except VersionConflict as exc:
            return problem_response(409, [{"field": "version", "reason": str(exc)}])
        return _out(rules, active=True)

    return router
