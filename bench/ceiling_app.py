"""The ceiling for ``bench/intake.py``: one durable insert per request, nothing else.

Served like the real app (uvicorn, same worker count) on the same engine settings
(``defchain.db.make_engine``: SQLite WAL + synchronous=FULL + BEGIN IMMEDIATE + the
write lock; PostgreSQL with synchronous_commit on), it stores the same JSON payload
the API receives and answers 201 only after the commit returned.

    BENCH_CEILING_DATABASE_URL=sqlite:////tmp/x.db \\
        uvicorn --factory --app-dir bench ceiling_app:create_app --workers 2

``BENCH_CEILING_WRITE_LOCK=0`` leaves SQLite writers to the busy timeout alone (the
"before" of the write-lock fix). ``POST /null`` parses the same body and answers
without the database: the framework plus the load generator, with no write at all.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, Table, Text, insert

from defchain.db import make_engine

metadata = MetaData()
bench_tips = Table(
    "bench_tips",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("narrative", Text, nullable=False),
    Column("payload", JSON, nullable=False),
)


def create_app() -> FastAPI:
    url = os.environ["BENCH_CEILING_DATABASE_URL"]
    write_lock = os.environ.get("BENCH_CEILING_WRITE_LOCK", "1") != "0"
    engine = make_engine(url, write_lock=write_lock)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/tips", status_code=201)
    def post_tip(body: dict[str, Any] = Body(...)) -> JSONResponse:
        with engine.begin() as connection:  # commits before the response
            new_id = connection.execute(
                insert(bench_tips).returning(bench_tips.c.id),
                {
                    "received_at": datetime.now(UTC),
                    "narrative": str(body.get("narrative", "")),
                    "payload": body,
                },
            ).scalar_one()
        return JSONResponse({"id": new_id}, status_code=201)

    @app.post("/null", status_code=201)
    def null(body: dict[str, Any] = Body(...)) -> JSONResponse:
        return JSONResponse({"id": 0, "fields": len(body)}, status_code=201)

    return app
