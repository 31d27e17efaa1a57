"""Schemathesis against the real service's own OpenAPI spec (issue 5).

The ``deployed`` fixture of test_serving (a production model and one real
``mlops-workbench serve`` subprocess on a free loopback port) is reused here; each test module
gets its own instance, so this file fuzzes a server of its own. Schemathesis loads the spec
over HTTP from that server (``schemathesis.pytest.from_fixture`` defers loading until the
fixture has started it) and sends every case over real HTTP.

Reproducible: a fixed schemathesis seed, ``derandomize=True`` and no example database.
Both generation modes run: positive (records that fit the schema) and negative (wrong
types, missing and unknown fields, out-of-range numbers, non-list bodies).
"""

from __future__ import annotations

import json

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error

from tests.test_serving import (  # noqa: F401 - `deployed` is a fixture
    deployed,
    request,
    sample_records,
)

SEED = 20240501
MAX_EXAMPLES = 150


@pytest.fixture(scope="module")
def api_schema(deployed):  # noqa: F811 - the imported fixture
    port = deployed["port"]
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json", timeout=30)
    schema.config.update(base_url=f"http://127.0.0.1:{port}", request_timeout=30)
    schema.config.seed = SEED
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                     phases=[Phase.explicit, Phase.generate],  # no shrinking: a 5xx is reported as found
                     suppress_health_check=list(HealthCheck), print_blob=True)
def test_no_generated_request_gets_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error], timeout=30)


def test_edge_bodies_schemathesis_does_not_send(deployed):  # noqa: F811
    port = deployed["port"]
    records, _ = sample_records(deployed["path"], 2)
    names = list(records[0])

    # JSON's non-standard NaN / Infinity tokens in every field, and as bare bodies
    for token in ("NaN", "Infinity", "-Infinity"):
        body = ("[{" + ", ".join(f'"{n}": {token}' for n in names) + "}]").encode()
        status, answer = request(port, "/predict", body)
        assert status == 422, (token, answer)
        assert "record 0, field" in answer["error"] and "\n" not in answer["error"], answer
        status, answer = request(port, "/predict", token.encode())
        assert status == 422, (token, answer)

    # 5 MB: refused before it is parsed
    huge = json.dumps(records * 5000).encode()
    assert len(huge) > 5_000_000
    status, answer = request(port, "/predict", huge)
    assert status == 413 and "larger than 1048576 bytes" in answer["error"], answer

    # truncated JSON at several cut points: 422 with a one-line error
    whole = json.dumps(records).encode()
    for cut in (1, 2, len(whole) // 3, len(whole) // 2, len(whole) - 1):
        status, answer = request(port, "/predict", whole[:cut])
        assert status == 422, (cut, answer)
        line = answer["error"]
        assert line.startswith("the body is not valid JSON") and "\n" not in line, (cut, line)


def test_the_service_survived_the_fuzzing(deployed):  # noqa: F811
    """Runs last in this module: same process, still healthy, no scoring failures counted."""
    assert deployed["proc"].poll() is None, "the service process exited"
    status, health = request(deployed["port"], "/health")
    assert status == 200 and health["status"] == "ok"
    status, meta = request(deployed["port"], "/metadata")
    assert status == 200 and meta["failed"] == 0, meta
    assert meta["rejected"] > 0 and meta["requests"] > 0, meta  # both refusals and scorings happened

