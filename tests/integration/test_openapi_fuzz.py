"""A bounded schemathesis run over the real service's `/openapi.json` (real Mosquitto, one
service for each store engine), as an admin and as an officer: no request the schema allows, nor
the near misses it generates, may get a 5xx, and every JSON answer, a refusal's too, must
be what the schema says for its status.

Bounded for CI: `EXAMPLES` examples an operation, each sent with both tokens; about
fifteen operations, well under a minute on a loaded machine. Only loopback is used.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.integration.conftest import ADMIN, BLUE_SKY, Deployment, start_deployment
from tests.postgres import new_database
from tests.support import Broker

pytestmark = pytest.mark.integration

EXAMPLES = 25
TOKENS = {"admin": ADMIN, "officer": BLUE_SKY}


@pytest.fixture(scope="module", params=[
    "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           broker: Broker) -> Iterator[Deployment]:
    """The service on each engine. On PostgreSQL every use of the store from the event
    loop must be in the writer's turn (`dispatch._turns`): a route that forgot its turn
    fails there with OutsideTurn, a 500."""
    env = {}
    if request.param == "postgresql":
        env["LANTIAN_STORE_URL"] = new_database(request.getfixturevalue("pg_server"))
    d = start_deployment(tmp_path_factory.mktemp("fuzz"), broker, env=env)
    d.fume("KY-CS-001")  # one real alert, so that the store is not empty
    d.open_alert("KY-CS-001")
    yield d
    d.service.stop()


def conforms(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every JSON answer, success or refusal (400, 401, 403, 404, 409, 413, 422), has the shape
    the schema documents for its status (the models of `dispatch._api_models`)."""
    if not response.headers.get("content-type", [""])[0].startswith("application/json"):
        return None  # the CSV and Prometheus text answers
    return response_schema_conformance(ctx, response, case)  # type: ignore[no-any-return]


def test_no_request_makes_the_service_fail(fuzzed: Deployment) -> None:
    # `schemathesis.pytest.from_fixture` would parametrize by operation, but it reads a
    # private attribute pytest 9 no longer has; so the operations are walked here, each
    # a Hypothesis test of its own (the Python API: `APIOperation.as_strategy`).
    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    started = time.monotonic()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.given(case=operation.as_strategy(mode))
            @hypothesis.settings(
                max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            def fuzz(case: Any) -> None:
                for headers in TOKENS.values():
                    response = case.call_and_validate(
                        base_url=fuzzed.url, headers=headers, timeout=10,
                        checks=[not_a_server_error, conforms],
                    )
                    statuses[response.status_code] += 1

            try:
                fuzz()
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing to get wrong (no parameters): no negative case exists
            except Exception as exc:  # every operation gets its run; all failures told
                failures.append(f"{operation.label} ({mode.value}): {exc}"[:3000])
    took = time.monotonic() - started
    print(f"schemathesis: {len(operations)} operations, {sum(statuses.values())} requests"
          f" in {took:.1f} s; statuses {dict(sorted(statuses.items()))}")
    assert not failures, "\n\n".join(failures)
    assert not any(s >= 500 for s in statuses)
