"""The real service's `/openapi.json` is typed enough to generate a client from: every
operation names the shape of its success, the bearer scheme is declared and applies to
every /api operation, and each refusal the API gives is documented with its shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import start_deployment
from tests.support import Broker

pytestmark = pytest.mark.integration

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory, broker: Broker) -> Iterator[dict[str, Any]]:
    d = start_deployment(Path(tmp_path_factory.mktemp("openapi")), broker)
    try:
        r = httpx.get(f"{d.url}/openapi.json", timeout=10)
        assert r.status_code == 200
        yield r.json()
    finally:
        d.service.stop()


def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{m.upper()} {path}": op for path, ops in spec["paths"].items()
            for m, op in ops.items() if m in METHODS}


def test_every_operation_documents_the_shape_of_its_success(spec: dict[str, Any]) -> None:
    untyped = []
    for name, op in operations(spec).items():
        successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        schemas = [media.get("schema") for r in successes.values()
                   for media in r.get("content", {}).values()]
        if set(successes) == {"204"} and not schemas:
            continue  # no content is its shape (signing out)
        if not schemas or not all(schemas):
            untyped.append(name)
    assert len(operations(spec)) >= 18
    assert untyped == []


def test_json_successes_are_models_not_bare_objects(spec: dict[str, Any]) -> None:
    bare = [name for name, op in operations(spec).items()
            for code, r in op["responses"].items() if code.startswith("2")
            for media, body in r.get("content", {}).items()
            if media == "application/json" and "$ref" not in body["schema"]]
    assert bare == []


def test_the_bearer_scheme_is_declared_and_on_every_api_operation(
    spec: dict[str, Any],
) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes == {"bearer": {"type": "http", "scheme": "bearer",
                                  "description": schemes["bearer"]["description"]}}
    api = {name: op for name, op in operations(spec).items() if " /api/" in name}
    assert len(api) >= 16
    assert {name: op.get("security") for name, op in api.items()} == {
        name: [{"bearer": []}] for name in api
    }
    # the token travels in the scheme, not as a header parameter of each operation
    assert not [name for name, op in api.items()
                for p in op.get("parameters", []) if p["name"].lower() == "authorization"]


@pytest.mark.parametrize(
    ("operation", "codes"),
    [
        ("GET /api/alerts", {"401", "403", "422"}),
        ("GET /api/alerts/{alert_id}", {"401", "403", "404", "422"}),
        ("POST /api/alerts/{alert_id}/ack", {"400", "401", "403", "404", "409", "413", "422"}),
        ("POST /api/alerts/{alert_id}/close", {"400", "401", "403", "404", "409", "413",
                                               "422"}),
        ("GET /api/metrics/response-times", {"401", "403", "422"}),
        ("GET /api/reports/monthly", {"401", "403", "422"}),
        ("GET /api/reports/coverage", {"401", "403", "404", "422"}),
        ("POST /api/silences", {"400", "401", "403", "413", "422"}),
        ("DELETE /api/silences/{silence_id}", {"401", "403", "404", "422"}),
    ],
)
def test_refusals_are_documented_with_the_detail_model(
    spec: dict[str, Any], operation: str, codes: set[str]
) -> None:
    responses = operations(spec)[operation]["responses"]
    assert codes <= responses.keys()
    for code in codes:
        schema = responses[code]["content"]["application/json"]["schema"]
        model = "Invalid" if code == "422" else "Problem"
        assert schema == {"$ref": f"#/components/schemas/{model}"}
    problem = spec["components"]["schemas"]["Problem"]
    assert problem["properties"]["detail"]["type"] == "string"
    assert problem["required"] == ["detail"]


def test_every_api_operation_documents_401_and_403(spec: dict[str, Any]) -> None:
    # who one is: any caller the API admits may ask it, so it has no 403
    missing = [name for name, op in operations(spec).items() if " /api/" in name
               and name != "GET /api/me" and not {"401", "403"} <= op["responses"].keys()]
    assert missing == []
