"""Open311 on a real served box, driven by a client we did not write: the `georeport`
package (PyPI), in both of its formats (JSON, and XML read with xmltodict).

georeport reads services, service definitions and requests; it cannot read discovery
or create a request, so those two go through `requests`, the HTTP library georeport
itself uses, with the form fields the spec names.
"""

from __future__ import annotations

import json

import pytest
import requests
from georeport import GeoReport
from kithtest import init_args, kith, on_box, serving

PASSWORD = "correct horse battery"
NAME = "Dana Whitcombe"  # a member's name no answer may carry

# Run in a child Python on the box before it is served: a member with a token, the
# centre's places, two "somebody should" posts (one resolved) and a need.
MAKE = f"""
import json, sys
from pathlib import Path
from appliance.box import Box
from appliance.services import accounts, api_tokens, board, centre
BOX = Box.open(Path(sys.argv[1]))
admin = accounts.actor_for(BOX, accounts.sign_up(BOX, "Sam Staff", "password-123"))
BOX.log.append("role.granted", {{"role": "staff", "expires": None}}, subject=admin.id)
admin = accounts.actor_for(BOX, admin.id)
for place in ("Mill Lane", "Park Road"):
    centre.set_place(BOX, admin, place)
dana = accounts.actor_for(BOX, accounts.sign_up(BOX, {NAME!r}, "password-123"))
post = {{"type": "should", "details": "", "category": "local-fix", "place": "Mill Lane",
        "needed_by": ""}}
bench = board.create_post(BOX, dana, {{**post, "title": "Fix the broken bench"}})
drain = board.create_post(
    BOX, dana, {{**post, "title": "Clear the drain", "category": "household",
                 "place": "Park Road"}})
board.resolve(BOX, dana, drain, "Cleared on Saturday")
need = board.create_post(BOX, dana, {{**post, "type": "need", "title": "Need a ladder"}})
token = api_tokens.create_token(BOX, dana, "Open311 test", 30)["token"]
print(json.dumps({{"bench": bench, "drain": drain, "need": need, "token": token,
                  "member": dana.id}}))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A box made with `kith init`, given content, and served with `kith serve`."""
    tmp = tmp_path_factory.mktemp("open311")
    data, password = tmp / "box", tmp / "password"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    kith(*init_args(data, password, "Millbrook Community Centre"))
    made = on_box(data, MAKE)
    with serving("--data", str(data), log=tmp / "serve.log") as (name, url):
        assert name == "Millbrook Community Centre"
        yield url + "open311/v2", made


def no_one_named(answer, made) -> None:
    text = json.dumps(answer)
    assert NAME not in text and made["member"] not in text


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_services_and_their_definitions(served, fmt):
    root, _ = served
    client = GeoReport(root, output_format=fmt)
    services = client.get_service_list()
    codes = [s["service_code"] for s in services]
    assert "local-fix" in codes and "household" in codes
    fix = next(s for s in services if s["service_code"] == "local-fix")
    assert fix["service_name"] == "Local fixes"
    assert fix["group"] == "somebody should"

    definition = client.get_service_definition("local-fix")
    assert definition["service_code"] == "local-fix"
    attributes = definition["attributes"]
    if fmt == "xml":  # xmltodict: <attributes><attribute>... and <values><value>...
        attributes = attributes["attribute"]
        for a in attributes:
            if "values" in a:
                a["values"] = a["values"]["value"]
    place = next(a for a in attributes if a["code"] == "place")
    assert [v["key"] for v in place["values"]] == ["Mill Lane", "Park Road"]
    title = next(a for a in attributes if a["code"] == "title")
    assert str(title["required"]).lower() == "true"

    with pytest.raises(requests.HTTPError) as refused:
        client.get_service_definition("potholes")
    assert refused.value.response.status_code == 404


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_requests_with_filters(served, fmt):
    root, made = served
    client = GeoReport(root, output_format=fmt)
    listed = client.get_service_requests()
    ids = {r["service_request_id"] for r in listed}
    assert {made["drain"], made["bench"]} <= ids
    assert made["need"] not in ids
    no_one_named(listed, made)

    closed = client.get_service_requests(status="closed")
    if fmt == "xml":  # xmltodict gives a lone <request> as a mapping, not a list of one
        closed = [closed]
    assert [r["service_request_id"] for r in closed] == [made["drain"]]
    assert closed[0]["status_notes"] == "Cleared on Saturday"

    one = client.get_service_request(made["bench"])
    assert one["status"] == "open"
    assert one["description"] == "Fix the broken bench"
    assert one["address"] == "Mill Lane"
    assert one["agency_responsible"] == "Millbrook Community Centre"
    assert one["requested_datetime"][-6] in "+-" and one["requested_datetime"][-3] == ":"

    with pytest.raises(requests.HTTPError) as refused:
        client.get_service_request(made["need"])
    assert refused.value.response.status_code == 404
    with pytest.raises(requests.HTTPError) as refused:
        client.get_service_requests(start_date="last week")
    assert refused.value.response.status_code == 400
    if fmt == "json":
        assert refused.value.response.json()[0]["code"] == 400
    else:
        assert "<errors><error><code>400</code>" in refused.value.response.text


def test_discovery_points_clients_at_this_box(served):
    root, _ = served
    answer = requests.get(root + "/discovery.json", timeout=30)
    assert answer.status_code == 200
    [endpoint] = answer.json()["endpoints"]
    assert endpoint["url"] == root
    # The address discovery gives is one georeport can use as it is.
    assert GeoReport(endpoint["url"]).get_service_list()


def test_a_client_creates_a_request_with_a_token_and_then_reads_it(served):
    root, made = served
    client = GeoReport(root, api_key=made["token"])
    form = {
        "api_key": client.api_key,
        "service_code": "local-fix",
        "attribute[place]": "Park Road",
        "description": "Somebody should mend the gate\nIt swings in the wind.",
        "email": "dana@example.org",  # personal fields of the spec are not kept
    }
    answer = requests.post(root + "/requests.json", data=form, timeout=30)
    assert answer.status_code == 201, answer.text
    [created] = answer.json()
    assert created["account_id"] is None
    one = client.get_service_request(created["service_request_id"])
    assert one["status"] == "open"
    assert one["address"] == "Park Road"
    assert one["description"] == "Somebody should mend the gate\n\nIt swings in the wind."
    no_one_named(one, made)
    assert "dana@example.org" not in json.dumps(one)

    refused = requests.post(
        root + "/requests.xml", data={**form, "api_key": "kith_nope"}, timeout=30
    )
    assert refused.status_code == 403
    assert "<errors><error><code>403</code>" in refused.text
    missing = requests.post(root + "/requests.json", data={"api_key": client.api_key}, timeout=30)
    assert missing.status_code == 400
    said = {e["description"].split(":")[0] for e in missing.json()}
    assert said == {"service_code", "address_string", "description"}
    after = client.get_service_requests()
    assert sum(r["service_request_id"] == created["service_request_id"] for r in after) == 1
