"""Fuzz the whole documented API in-process with schemathesis: every operation of
/api/v1/openapi.json (every area's fragment) gets a few generated requests, sent with a
member's personal token, and must answer without a server error and as documented.

Bounded and repeatable: a handful of examples per operation, derandomized, no example
database; requests that fit the document and some that do not (which must be refused
with a documented 4xx, never a 500). Operations with a {post_id} are also tried on a
real post, so their success answers are checked too, not only 404s.
"""

from __future__ import annotations

import schemathesis
from apitools import token_for
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pagetools import new_post
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

# Examples per operation: requests that fit the document, and (fewer) that do not.
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 5, schemathesis.GenerationMode.NEGATIVE: 3}
CHECKS = [not_a_server_error, response_schema_conformance]


def test_every_documented_operation_survives_generated_requests(app, box, alice, bob):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {token_for(box, 'Bob')}"}
    post_id = new_post(alice, title="Spare wellies", type="offer", category="household")
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        variants = [{}]
        if "post_id" in names:
            variants.append({"post_id": post_id})
        for mode, fixed in [(m, f) for m in EXAMPLES for f in variants]:
            strategy = operation.as_strategy(mode, path_parameters=fixed or None)

            @settings(
                max_examples=EXAMPLES[mode],
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case):
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                # Nothing to get wrong: an operation without parameters or a body has no
                # invalid request to make.
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
        tried.append(operation.label)
    assert "GET /api/v1/posts" in tried and "POST /api/v1/posts/{post_id}/flag" in tried
