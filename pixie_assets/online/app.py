"""The HTTP API of the online service (FastAPI, served by uvicorn: ``make serve``).

    POST /v1/recommendations  {client, user_id, query_pins?: [{pin_id, weight}], k?}
    POST /v1/impressions      {client, impressions: [{request_id, pin_id, position,
                               full_ranker_score}]}
    POST /v1/engagements      {client, engagements: [{user_id, pin_id, action, request_id?}]}
    POST /v1/admin/refresh    load a new graph day or @champion now (else every poll interval)
    GET  /healthz  /readyz  /metrics

Handlers are plain functions, which FastAPI runs on its thread pool: the walks release the GIL,
so requests use every core of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Annotated

import pyarrow as pa
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from pixie_assets.core.contract import ACTIONS
from pixie_assets.online.recommend import BadRequest
from pixie_assets.online.service import Service, refresh_forever


class QueryPin(BaseModel):
    pin_id: int
    weight: Annotated[float, Field(gt=0)] = 1.0


class RecommendationRequest(BaseModel):
    client: str
    user_id: int
    query_pins: list[QueryPin] | None = None
    k: Annotated[int, Field(ge=1, le=1000)] | None = None


class Candidate(BaseModel):
    pin_id: int
    visit_count: float
    visit_rank: int
    lightweight_score: float
    exploration: bool


class RecommendationResponse(BaseModel):
    request_id: str
    client: str
    day: str
    model_version: str
    candidates: list[Candidate]


class Impression(BaseModel):
    request_id: str
    pin_id: int
    position: Annotated[int, Field(ge=0)]
    full_ranker_score: float


class Impressions(BaseModel):
    client: str
    impressions: list[Impression]


class Engagement(BaseModel):
    user_id: int
    pin_id: int
    action: str
    request_id: str | None = None


class Engagements(BaseModel):
    client: str
    engagements: list[Engagement]


def create_app(service: Service, poll_seconds: float = 30.0) -> FastAPI:
    """The API over ``service``; a thread checks for a new graph or champion every
    ``poll_seconds`` (0: only on POST /v1/admin/refresh)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Iterator[None]:
        stop = threading.Event()
        if poll_seconds > 0:
            threading.Thread(
                target=refresh_forever, args=(service, poll_seconds, stop), daemon=True
            ).start()
        yield
        stop.set()
        service.close()

    app = FastAPI(title="Pixie online service", lifespan=lifespan)

    @app.exception_handler(BadRequest)
    def bad_request(request: Request, error: BadRequest) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    def malformed(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        return JSONResponse({"detail": "malformed request: " + "; ".join(problems)}, 422)

    @app.post("/v1/recommendations", response_model=RecommendationResponse)
    def recommendations(body: RecommendationRequest) -> RecommendationResponse:
        pins = weights = None
        if body.query_pins is not None:
            pins = tuple(p.pin_id for p in body.query_pins)
            weights = tuple(p.weight for p in body.query_pins)
        served = service.recommend(body.client, body.user_id, pins, weights, body.k)
        return RecommendationResponse(
            request_id=served.request_id, client=body.client, day=served.day,
            model_version=served.model_version,
            candidates=[Candidate(**item) for item in served.items],
        )  # fmt: skip

    @app.post("/v1/impressions")
    def impressions(body: Impressions) -> dict:
        rows = pa.Table.from_pylist([i.model_dump() for i in body.impressions])
        return {"accepted": service.log_rows("impressions", body.client, rows)}

    @app.post("/v1/engagements")
    def engagements(body: Engagements) -> dict:
        unknown = sorted({e.action for e in body.engagements} - set(ACTIONS))
        if unknown:
            raise BadRequest(f"unknown action(s) {unknown}; known: {', '.join(ACTIONS)}")
        ts = service.serving_time(service.state)
        rows = pa.Table.from_pylist(
            [{**e.model_dump(), "client": body.client, "ts": ts} for e in body.engagements]
        )
        return {"accepted": service.log_rows("engagements", body.client, rows)}

    @app.post("/v1/admin/refresh")
    def refresh() -> dict:
        done = service.refresh()
        return {"swapped": done.swapped, "day": done.day, "models": done.models}

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        if not service.ready():
            raise HTTPException(503, "the graph or a client's model is not loaded")
        state = service.state
        models = {name: c.model_version for name, c in state.clients.items()}
        features = {name: c.features.mode for name, c in state.clients.items()}
        return JSONResponse({"status": "ready", "day": state.day.isoformat(), "models": models,
                             "features": features})  # fmt: skip

    @app.get("/metrics")
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(
            generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    return app
