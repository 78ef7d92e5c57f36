"""The API's contract: every /api/v1 route is documented and every documented operation
is a route, the document is valid OpenAPI 3.1, and real answers match their schemas.

Other API areas document their routes in their own web/openapi/*.yaml fragments and
check their answers with apitools.assert_documented in their own tests; the scenario
here calls every operation of the board fragment (and base) for a success and an error.
"""

from __future__ import annotations

import re

import pytest
from apitools import VALIDATED, ApiClient, assert_documented, session_api, token_for
from jsonschema import Draft202012Validator
from pagetools import DAY_MS, member_id
from schemathesis.specs.openapi.definitions import OPENAPI_31

from appliance.services import stale
from web import openapi

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    return {(op["method"], op["path"]) for op in openapi.operations(doc)}


def routed_operations(app) -> set[tuple[str, str]]:
    """(METHOD, path template) of every /api/v1 route, with <x> written as {x}."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - IGNORED_METHODS:
            found.add((method, path))
    return found


# --- (1) routes and document agree -------------------------------------------------------


def test_every_api_route_is_documented(app):
    missing = routed_operations(app) - documented_operations(openapi.document())
    assert not missing, f"routes missing from web/openapi/*.yaml: {sorted(missing)}"


def test_every_documented_operation_is_a_route(app):
    doc = openapi.document()
    extra = documented_operations(doc) - routed_operations(app)
    assert not extra, f"documented but not routed: {sorted(extra)}"
    assert all(path.startswith("/api/v1/") for _, path in documented_operations(doc))


def test_the_route_mapping_reads_werkzeug_converters(app):
    routed = routed_operations(app)
    assert ("GET", "/api/v1/posts/{post_id}") in routed
    assert ("POST", "/api/v1/posts/{post_id}/help/withdraw") in routed
    assert not any("<" in path or "HEAD" == method for method, path in routed)


# --- (2) the document is valid OpenAPI 3.1 and follows the conventions --------------------


def test_the_document_is_valid_openapi_3_1():
    doc = openapi.document()
    assert doc["openapi"] == "3.1.0"
    errors = sorted(
        Draft202012Validator(OPENAPI_31).iter_errors(doc), key=lambda e: list(e.absolute_path)
    )
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:20]
    )
    # The official schema does not look inside schemas: check each one as JSON Schema.
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema), name


def test_every_reference_resolves():
    doc = openapi.document()

    def walk(node, where):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                assert node["$ref"].startswith("#/"), f"{where}: only local references"
                try:
                    openapi.resolve(doc, node)
                except KeyError:
                    pytest.fail(f"{where}: {node['$ref']} names nothing")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(doc, "#")


def test_every_operation_follows_the_conventions():
    doc = openapi.document()
    ids = [op["operation"].get("operationId") for op in openapi.operations(doc)]
    assert all(ids) and len(ids) == len(set(ids)), "every operationId is there, and unique"
    schemes = set(doc["components"]["securitySchemes"])
    assert schemes == {"bearerAuth", "cookieAuth"}
    for op in openapi.operations(doc):
        where = f"{op['method']} {op['path']}"
        operation = op["operation"]
        assert operation.get("tags"), f"{where}: tags"
        assert operation.get("summary"), f"{where}: summary"
        assert "security" in operation, f"{where}: security"
        for requirement in operation["security"]:
            assert set(requirement) <= schemes, f"{where}: unknown security scheme"
        for parameter in op["parameters"]:
            assert "schema" in parameter, f"{where}: parameter {parameter['name']} has no schema"
        names = re.findall(r"\{([^}]+)\}", op["path"])
        path_params = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        assert path_params == set(names), f"{where}: path parameters {path_params} vs {names}"
        assert operation.get("responses"), f"{where}: responses"
        for status, response in operation["responses"].items():
            response = openapi.resolve(doc, response)
            assert response.get("description"), f"{where} {status}: description"
            if status != "204" and not status.startswith("3"):
                content = response.get("content") or {}
                assert content, f"{where} {status}: no content"
                assert all("schema" in media for media in content.values()), (
                    f"{where} {status}: content without a schema"
                )


def _write(folder, name, text):
    (folder / name).write_text(text, encoding="utf-8")


BASE = """
openapi: 3.1.0
info: {title: t, version: "1"}
paths: {}
components:
  schemas:
    Error: {type: object}
"""


def test_fragments_merge_base_first_then_by_name(tmp_path):
    _write(tmp_path, "base.yaml", BASE)
    _write(tmp_path, "zeta.yaml", "paths: {/api/v1/z: {get: {responses: {}}}}")
    _write(
        tmp_path,
        "alpha.yaml",
        "paths: {/api/v1/a: {get: {responses: {}}}}\n"
        "components: {schemas: {AlphaThing: {type: string}}}",
    )
    doc = openapi.build(tmp_path)
    assert list(doc["paths"]) == ["/api/v1/a", "/api/v1/z"]
    assert set(doc["components"]["schemas"]) == {"Error", "AlphaThing"}
    assert [p.name for p in openapi.fragment_files(tmp_path)] == [
        "base.yaml",
        "alpha.yaml",
        "zeta.yaml",
    ]


@pytest.mark.parametrize(
    "alpha, zeta, message",
    [
        (
            "paths: {/api/v1/x: {get: {responses: {}}}}",
            "paths: {/api/v1/x: {post: {responses: {}}}}",
            "path /api/v1/x is defined in both alpha.yaml and zeta.yaml",
        ),
        (
            "components: {schemas: {Thing: {type: string}}}",
            "components: {schemas: {Thing: {type: integer}}}",
            "schemas Thing is defined in both alpha.yaml and zeta.yaml",
        ),
        (
            "components: {schemas: {Error: {type: string}}}",
            "paths: {}",
            "schemas Error is defined in both base.yaml and alpha.yaml",
        ),
        ("info: {title: mine}", "paths: {}", "alpha.yaml: only base.yaml may set info"),
        ("- a list", "paths: {}", "alpha.yaml: an OpenAPI fragment must be a mapping"),
    ],
)
def test_a_fragment_may_not_redefine_or_take_over(tmp_path, alpha, zeta, message):
    _write(tmp_path, "base.yaml", BASE)
    _write(tmp_path, "alpha.yaml", alpha)
    _write(tmp_path, "zeta.yaml", zeta)
    with pytest.raises(openapi.FragmentError) as raised:
        openapi.build(tmp_path)
    assert str(raised.value).startswith(message)


def test_the_document_is_served_as_json(browser):
    response = browser.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == openapi.document()


# --- the page for people ------------------------------------------------------------------


def test_the_api_page_lists_every_operation_from_the_document(browser):
    page = browser.get("/api")
    doc = openapi.document()
    shown = {
        (card.one("span", class_="api-method").text(), card.one("code", class_="api-path").text())
        for card in page.find_all("article", class_="api-op")
    }
    assert shown == documented_operations(doc)
    assert "/account/tokens" in page.links()
    assert "/api/v1/openapi.json" in page.links()
    create = page.one("article", id="createBoardPost")
    assert "Needs sign-in: a token or the login cookie." in create.text()
    assert "title (string, required)" in create.text()
    assert "No sign-in needed." in page.one("article", id="listBoardPosts").text()
    assert "not with a token" in page.one("article", id="listAccountTokens").text()
    levels = [int(n.tag[1]) for n in page.find_all() if re.fullmatch(r"h[1-6]", n.tag)]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))


# --- (3) a scenario calls every board operation: a success and an error ------------------


BOARD_FRAGMENT = openapi.FOLDER / "board.yaml"


def board_operations() -> set[tuple[str, str]]:
    paths = set(openapi._load(BOARD_FRAGMENT)["paths"])
    return {(m, p) for m, p in documented_operations(openapi.document()) if p in paths}


def test_every_board_operation_answers_as_documented(
    app, box, clock, alice, bob, browser, staff_client
):
    VALIDATED.clear()
    a = ApiClient(app.test_client(), token_for(box, "Alice"))
    b = ApiClient(app.test_client(), token_for(box, "Bob"))
    visitor = ApiClient(app.test_client())
    stranger = ApiClient(app.test_client(), "kith_not-a-token")

    def check(response, method, path, status):
        assert response.status_code == status, (
            method,
            path,
            response.status_code,
            response.get_data(as_text=True)[:500],
        )
        return assert_documented(response, method, path)

    one = "/api/v1/posts/{post_id}"

    check(visitor.get("/api/v1/openapi.json"), "GET", "/api/v1/openapi.json", 200)
    check(stranger.get("/api/v1/openapi.json"), "GET", "/api/v1/openapi.json", 401)

    # Posting, and reading back.
    new = {"type": "need", "title": "Lift to the clinic", "category": "travel", "place": "Mill"}
    made = check(a.post("/api/v1/posts", json=new), "POST", "/api/v1/posts", 201)
    pid = made["id"]
    check(a.post("/api/v1/posts", json={**new, "title": ""}), "POST", "/api/v1/posts", 400)
    listed = check(visitor.get("/api/v1/posts"), "GET", "/api/v1/posts", 200)
    assert [p["id"] for p in listed["posts"]] == [pid]
    check(visitor.get("/api/v1/posts?when=soon"), "GET", "/api/v1/posts", 400)
    check(visitor.get(f"/api/v1/posts/{pid}"), "GET", one, 200)
    check(visitor.get("/api/v1/posts/" + "0" * 64), "GET", one, 404)

    # Comments and help.
    check(
        b.post(f"/api/v1/posts/{pid}/comments", json={"text": "When?"}),
        "POST",
        one + "/comments",
        201,
    )
    check(
        b.post(f"/api/v1/posts/{pid}/comments", json={"text": " "}), "POST", one + "/comments", 400
    )
    view = check(
        b.post(f"/api/v1/posts/{pid}/help", json={"mode": "can_help"}), "POST", one + "/help", 200
    )
    assert view["can"]["my_help"] == "can_help"
    check(a.post(f"/api/v1/posts/{pid}/help", json={"mode": "on_it"}), "POST", one + "/help", 403)
    check(b.post(f"/api/v1/posts/{pid}/help/withdraw"), "POST", one + "/help/withdraw", 200)
    check(b.post(f"/api/v1/posts/{pid}/help/withdraw"), "POST", one + "/help/withdraw", 409)
    check(b.post(f"/api/v1/posts/{pid}/help", json={"mode": "on_it"}), "POST", one + "/help", 200)

    # Thanks, resolving and reopening.
    bob_id = member_id("Bob")
    check(
        a.post(f"/api/v1/posts/{pid}/thanks", json={"helper": bob_id, "message": "Ta"}),
        "POST",
        one + "/thanks",
        201,
    )
    check(
        b.post(f"/api/v1/posts/{pid}/thanks", json={"helper": bob_id, "message": "Me"}),
        "POST",
        one + "/thanks",
        403,
    )
    view = check(
        a.post(f"/api/v1/posts/{pid}/resolve", json={"note": "Done"}), "POST", one + "/resolve", 200
    )
    assert view["status"] == "resolved" and view["resolved"]["note"] == "Done"
    check(a.post(f"/api/v1/posts/{pid}/resolve"), "POST", one + "/resolve", 409)
    check(a.post(f"/api/v1/posts/{pid}/reopen"), "POST", one + "/reopen", 200)
    check(a.post(f"/api/v1/posts/{pid}/reopen"), "POST", one + "/reopen", 409)

    # Flags.
    check(b.post(f"/api/v1/posts/{pid}/flag", json={"reason": "spam"}), "POST", one + "/flag", 201)
    check(b.post(f"/api/v1/posts/{pid}/flag", json={"reason": "spam"}), "POST", one + "/flag", 409)

    # Lists, the centre and me.
    thanks = check(visitor.get("/api/v1/thanks"), "GET", "/api/v1/thanks", 200)
    assert [t["message"] for t in thanks["thanks"]] == ["Ta"]
    check(stranger.get("/api/v1/thanks"), "GET", "/api/v1/thanks", 401)
    centre = check(visitor.get("/api/v1/centre"), "GET", "/api/v1/centre", 200)
    assert centre["name"] == "Test Centre"
    check(stranger.get("/api/v1/centre"), "GET", "/api/v1/centre", 401)
    me = check(a.get("/api/v1/me"), "GET", "/api/v1/me", 200)
    assert (me["name"], me["via_token"]) == ("Alice", True)
    check(visitor.get("/api/v1/me"), "GET", "/api/v1/me", 401)
    tokens = check(session_api(alice).get("/api/v1/me/tokens"), "GET", "/api/v1/me/tokens", 200)
    assert [t["state"] for t in tokens["tokens"]] == ["live"]
    check(a.get("/api/v1/me/tokens"), "GET", "/api/v1/me/tokens", 403)

    # "Still needed?" once the post has been open a month, and reviving it once it went quiet.
    clock.advance(31 * DAY_MS)
    stale.sweep(box)
    check(
        b.post(f"/api/v1/posts/{pid}/still-needed", json={"answer": True}),
        "POST",
        one + "/still-needed",
        403,
    )
    view = check(
        a.post(f"/api/v1/posts/{pid}/still-needed", json={"answer": True}),
        "POST",
        one + "/still-needed",
        200,
    )
    assert view["can"]["still_needed"] is False
    check(b.post(f"/api/v1/posts/{pid}/revive"), "POST", one + "/revive", 409)
    clock.advance(31 * DAY_MS)
    stale.sweep(box)
    clock.advance(8 * DAY_MS)
    stale.sweep(box)
    view = check(b.post(f"/api/v1/posts/{pid}/revive"), "POST", one + "/revive", 200)
    assert view["stale"] is False

    answered = {}
    for method, path, status in VALIDATED:
        answered.setdefault((method, path), set()).add(status // 100)
    for operation in sorted(board_operations()):
        assert {2, 4} <= answered.get(operation, set()), (
            f"{operation} was not checked for both a success and an error"
        )
