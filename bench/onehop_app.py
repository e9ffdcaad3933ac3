"""An experiment for ``bench/intake.py --paths api-onehop``: the API's write path with
its whole transaction on one worker thread.

The real ``POST /api/v1/reports`` begins its transaction in the ``current_integration``
dependency (a threadpool thread), reads the body on the event loop, runs the endpoint on
another thread and commits on a third: the SQLite write lock (and PostgreSQL's audit
chain lock) is held across three event-loop hops. This route reads and validates the
body first, then authenticates, stores and commits in one ``run_in_threadpool`` call,
with the same service functions. Served by ``defchain serve``-equivalent uvicorn
(``--factory onehop_app:create_app``), it shows what that change would buy.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from defchain.db import unit_of_work
from defchain.intake import ReportInvalid, parse_report, service
from defchain.intake.rules import Channel
from defchain.web.app import create_app as create_real_app
from defchain.web.routes.api import json_body


def create_app() -> FastAPI:
    app = create_real_app()
    ctx = app.state.ctx

    @app.post("/api/bench/reports-onehop", status_code=201)
    async def post_report(request: Request) -> JSONResponse:
        body = await json_body(request)
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        now = ctx.clock.now()
        try:
            data = parse_report({**body, "channel": Channel.API.value}, now=now)
        except ReportInvalid as exc:
            return JSONResponse({"errors": exc.errors}, status_code=422)

        def store() -> int | None:
            with unit_of_work(ctx.session_factory) as session:
                integration = service.integration_for_token(session, token)
                if integration is None:
                    return None
                service.touch_integration(integration, now=now)
                report, _ = service.receive_from_integration(
                    session, data=data, integration=integration, now=now
                )
                return report.id

        report_id = await run_in_threadpool(store)
        if report_id is None:
            return JSONResponse({"detail": "bad token"}, status_code=401)
        return JSONResponse({"id": report_id}, status_code=201)

    return app
