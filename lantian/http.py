"""The service's one HTTP port: health and metrics now; `dispatch` mounts its API here."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

HealthCheck = Callable[[], bool]


def create_app(registry: CollectorRegistry, checks: dict[str, HealthCheck]) -> FastAPI:
    app = FastAPI(title="Lantian", version="0.1.0")

    # async: run on the event loop, which owns the store the checks touch (not a thread)
    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when every check passes (broker connected, store writable), else 503."""
        results = {name: bool(check()) for name, check in checks.items()}
        ok = all(results.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": results},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
