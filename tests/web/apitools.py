"""Helpers for JSON API tests: a personal token for a member, a JSON client, and checking
an answer against the OpenAPI document (web/openapi.py) for its method, path and status.

Every API area's tests use these:

    from apitools import ApiClient, assert_documented, token_for

    api = ApiClient(client, token_for(box, "Alice"))
    response = api.post("/api/v1/posts", json={...})
    body = assert_documented(response, "POST", "/api/v1/posts")

assert_documented fails the test if the operation, or the answer's status, is not in the
document, or the body does not match the documented schema (JSON Schema 2020-12, with
`#/components/...` references resolved), and records what it validated in VALIDATED so
a contract test can tell which operations some test has checked.
"""

from __future__ import annotations

import re
from functools import cache

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from pagetools import actor as actor_named
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.test import TestResponse

from appliance.box import Box
from appliance.services import api_tokens
from appliance.services.accounts import Actor
from web.openapi import document, resolve

DOC_URI = "urn:kith:openapi"
# (METHOD, path template, status) of every answer assert_documented has checked.
VALIDATED: set[tuple[str, str, int]] = set()


# --- tokens and clients -----------------------------------------------------------------


def actor_of(box: Box, who: str | Actor) -> Actor:
    """Return the actor for a member's display name (or the actor itself)."""
    return who if isinstance(who, Actor) else actor_named(box, who)


def token_for(box: Box, who: str | Actor, name: str = "test tool", days: int = 90) -> str:
    """Make a personal token for a member (by display name or actor); return the token."""
    return api_tokens.create_token(box, actor_of(box, who), name, days)["token"]


class ApiClient:
    """A Flask test client speaking JSON to /api/, as a tool with a token would.

    With `token`, every request carries `Authorization: Bearer <token>`; with `csrf`
    (a session client: a signed-in Browser's cookies), every request carries the
    X-CSRFToken header the box asks of cookie-signed POSTs.
    """

    def __init__(self, client: FlaskClient, token: str | None = None, csrf: str | None = None):
        self.client = client
        self.headers = {}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"
        if csrf is not None:
            self.headers["X-CSRFToken"] = csrf

    def request(self, method: str, url: str, **kw) -> TestResponse:
        headers = {**self.headers, **(kw.pop("headers", None) or {})}
        return self.client.open(url, method=method, headers=headers, **kw)

    def get(self, url: str, **kw) -> TestResponse:
        return self.request("GET", url, **kw)

    def post(self, url: str, json=None, **kw) -> TestResponse:
        if json is not None:
            kw["json"] = json
        return self.request("POST", url, **kw)


def session_api(browser) -> ApiClient:
    """Return an ApiClient using a signed-in Browser's login cookie (and its CSRF token)."""
    return ApiClient(browser.client, csrf=browser.token("/"))


# --- the document -----------------------------------------------------------------------


@cache
def _doc() -> dict:
    return document()


@cache
def _registry() -> Registry:
    return Registry().with_resource(
        DOC_URI, Resource.from_contents(_doc(), default_specification=DRAFT202012)
    )


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def template_of(path: str) -> str | None:
    """Return the documented path template that a concrete path matches, or None."""
    for template in _doc()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    return None


def documented_response(method: str, path_template: str, status: int) -> tuple[str, dict]:
    """Return (key, response object) documented for the status: "200", then "2XX", then
    "default"; fail the test if the operation or the status is not documented."""
    item = _doc()["paths"].get(path_template)
    assert item is not None, f"{path_template} is not in the OpenAPI document"
    operation = item.get(method.lower())
    assert operation is not None, f"{method} {path_template} is not in the OpenAPI document"
    responses = operation.get("responses", {})
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            return key, resolve(_doc(), responses[key])
    raise AssertionError(
        f"{method} {path_template} answered {status}, which its documentation does not list "
        f"(it lists {', '.join(responses)})"
    )


def schema_errors(instance, method: str, path_template: str, status_key: str) -> list[str]:
    """Return what is wrong with a JSON body against the documented schema (empty: fine)."""
    response = _doc()["paths"][path_template][method.lower()]["responses"][status_key]
    pointer = _pointer("paths", path_template, method.lower(), "responses", status_key)
    if "$ref" in response:
        pointer = response["$ref"].removeprefix("#/")
    pointer += "/" + _pointer("content", "application/json", "schema")
    validator = Draft202012Validator({"$ref": f"{DOC_URI}#/{pointer}"}, registry=_registry())
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]


def assert_documented(
    response: TestResponse, method: str | None = None, path_template: str | None = None
):
    """Check an API answer against the document; return its JSON body (or None).

    `method` and `path_template` (e.g. "/api/v1/posts/{post_id}") default to the
    request's own method and the documented path it matches.
    """
    method = (method or response.request.method).upper()
    if path_template is None:
        path_template = template_of(response.request.path)
        assert path_template, f"{response.request.path} matches no documented path"
    key, documented = documented_response(method, path_template, response.status_code)
    content = documented.get("content") or {}
    body = None
    if "application/json" in content:
        assert response.mimetype == "application/json", (
            f"{method} {path_template} {response.status_code}: expected JSON, got "
            f"{response.mimetype}: {response.get_data(as_text=True)[:300]}"
        )
        body = response.get_json()
        if "schema" in content["application/json"]:
            errors = schema_errors(body, method, path_template, key)
            assert not errors, (
                f"{method} {path_template} {response.status_code} does not match its "
                f"documented schema:\n" + "\n".join(errors) + f"\nbody: {str(body)[:1000]}"
            )
    elif not content:
        assert not response.get_data(), (
            f"{method} {path_template} {response.status_code} is documented without a body"
        )
    for header in documented.get("headers") or {}:
        assert header in response.headers, (
            f"{method} {path_template} {response.status_code} lacks its {header} header"
        )
    VALIDATED.add((method, path_template, response.status_code))
    return body
