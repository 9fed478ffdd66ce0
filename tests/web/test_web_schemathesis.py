"""The JSON API against its own OpenAPI document (schemathesis): generated requests, valid
and invalid, with a bearer token and without, never get a 5xx nor a response outside the
schema the API publishes."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from ..flows import DOCS_OK, complete, start_new_card

#: examples per operation and generation mode; CI time allows a few (SIMPUL_SCHEMATHESIS_EXAMPLES)
EXAMPLES = int(os.environ.get("SIMPUL_SCHEMATHESIS_EXAMPLES", "8"))
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.mark.parametrize("authorized", [True, False], ids=["token", "no_token"])
def test_generated_requests_get_no_5xx_and_answers_in_the_published_schema(app, runtime, token_for, authorized):
    receipt = start_new_card(runtime, 1)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    start_new_card(runtime, 2)
    headers = token_for("camat") if authorized else {}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures, operations, statuses = [], 0, {}
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            def call(case):
                response = case.call_and_validate(headers=headers, checks=CHECKS)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            try:
                call()
            except Exception as exc:  # the smallest failing request of this operation, reported below
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    assert operations >= 15
    # the requests reached the endpoints: answered, refused as invalid, and (with a token) served
    assert statuses.get(401 if not authorized else 200, 0) > 0 and statuses.get(422 if authorized else 401), statuses
    print(statuses)
    assert not failures, "\n\n".join(failures)
