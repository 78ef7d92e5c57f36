"""Staff pages: verifying members, roles, and the centre's categories and places."""

from __future__ import annotations

import datetime

import pytest
from pagetools import ADMIN, DAY_MS, Browser, Page, flash_of, member_id, new_post, record_count

from appliance.models import Role

STAFF_PAGES = ["/staff/members", "/staff/centre"]


def row(page: Page, name: str):
    """Return the members table row of the member with this name."""
    rows = [tr for tr in page.find_all("tr") if tr.find("th", scope="row")]
    found = [tr for tr in rows if tr.one("th").text().split(" (")[0] == name]
    assert len(found) == 1, [tr.one("th").text() for tr in rows]
    return found[0]


def verify_cell(page: Page, name: str):
    return row(page, name).find_all("td")[0]


def roles_of(page: Page, name: str) -> list[str]:
    cell = row(page, name).find_all("td")[1]
    return [form.text().rstrip("×").strip() for form in cell.find_all("form")]


def my_roles(browser: Browser) -> str:
    me = browser.get("/me")
    terms = [dt.text() for dt in me.find_all("dt")]
    return [dd.text() for dd in me.find_all("dd")][terms.index("Roles here")]


# --- who may see the staff pages --------------------------------------------------------


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_staff_pages_are_403_for_members(alice, url):
    page = alice.get(url, status=403)
    assert page.one(role="alert").text() == "Only the centre's staff can do that."


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_staff_pages_send_visitors_to_log_in(browser, url):
    response = browser.get(url, status=302).response
    assert response.headers["Location"] == f"/login?next={url}"


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_staff_pages_open_for_staff_and_admin(staff_client, admin_client, url):
    for who in (staff_client, admin_client):
        page = who.get(url)
        assert page.one("nav", aria_label="Main").find("a", href="/staff/members") is not None


def test_the_staff_link_is_only_in_staff_navigation(alice, staff_client):
    assert alice.get("/").one("nav", aria_label="Main").find("a", href="/staff/members") is None
    assert staff_client.get("/").one("nav", aria_label="Main").find("a", href="/staff/members")


@pytest.mark.parametrize(
    "path, data",
    [
        ("/staff/members/{id}/verify", {}),
        ("/staff/members/{id}/roles", {"role": "driver"}),
        ("/staff/members/{id}/roles/member/revoke", {}),
        ("/staff/centre/categories", {"label": "Pets"}),
        ("/staff/centre/places", {"place": "Church Hall"}),
    ],
)
def test_members_cannot_do_staff_actions(alice, bob, box, path, data):
    before = record_count(box)
    response = alice.post(path.format(id=member_id("Bob")), data, via="/")
    assert response.status_code == 403
    assert "Only the centre's staff can do that." in Page(response).one(role="alert").text()
    assert record_count(box) == before


# --- verification ------------------------------------------------------------------------


def test_staff_verify_a_member_in_person_and_can_take_it_back(staff_client, alice, box):
    post_id = new_post(alice)
    assert alice.get(f"/posts/{post_id}").find("span", class_="badge") is None
    before = record_count(box)
    page = staff_client.get("/staff/members")
    assert verify_cell(page, "Alice").one("button").text() == "Verify Alice"

    response = staff_client.submit(page, action=f"/staff/members/{member_id('Alice')}/verify")

    page = staff_client.follow(response)
    assert flash_of(page) == "Marked as verified in person."
    assert "✓" in verify_cell(page, "Alice").text()
    assert record_count(box) == before + 1
    assert alice.get(f"/posts/{post_id}").one("span", class_="badge").text() == "✓ verified"
    me = alice.get("/me")
    assert me.find_all("dd")[0].text() == "Yes"

    page = staff_client.follow(
        staff_client.submit(page, action=f"/staff/members/{member_id('Alice')}/verify")
    )
    assert flash_of(page) == "Verification removed."
    assert verify_cell(page, "Alice").one("button").text() == "Verify Alice"
    assert alice.get(f"/posts/{post_id}").find("span", class_="badge") is None
    assert record_count(box) == before + 2


def test_verifying_twice_is_a_conflict_that_changes_nothing(staff_client, alice, box):
    url = f"/staff/members/{member_id('Alice')}/verify"
    staff_client.post(url, via="/staff/members")
    before = record_count(box)
    response = staff_client.post(url, {"verified": "1"}, via="/staff/members")
    assert response.status_code == 409
    assert Page(response).one(role="alert").text() == "Alice is already verified."
    assert record_count(box) == before


def test_staff_action_on_an_unknown_member_is_404(staff_client, box):
    before = record_count(box)
    response = staff_client.post("/staff/members/" + "0" * 64 + "/verify", via="/staff/members")
    assert response.status_code == 404
    assert Page(response).one(role="alert").text() == "There is no such member."
    assert record_count(box) == before


def test_staff_find_members_by_name(staff_client, alice, bob):
    page = staff_client.get("/staff/members?q=ali")
    names = [tr.one("th").text() for tr in page.find_all("tr") if tr.find("th", scope="row")]
    assert names == ["Alice"]
    assert page.one("input", name="q").value() == "ali"


# --- roles -------------------------------------------------------------------------------


def test_grant_a_role_until_a_date(staff_client, alice, new_browser, box, clock):
    before = record_count(box)
    page = staff_client.get("/staff/members")

    response = staff_client.submit(
        page,
        action=f"/staff/members/{member_id('Alice')}/roles",
        data={"role": "driver", "expires": "2027-03-20"},
    )

    page = staff_client.follow(response)
    assert flash_of(page) == "Role granted."
    assert roles_of(page, "Alice") == ["driver"]
    assert my_roles(alice) == "driver"
    assert record_count(box) == before + 1
    # The role lasts to the end of its day in the centre's zone (London, GMT in March).
    role = Role.get(Role.member == member_id("Alice"))
    end = datetime.datetime(2027, 3, 21, tzinfo=datetime.UTC)
    assert role.expires_ms == int(end.timestamp() * 1000)

    clock.ms = role.expires_ms - 1
    assert roles_of(staff_client.get("/staff/members"), "Alice") == ["driver"]
    clock.ms = role.expires_ms
    assert roles_of(staff_client.get("/staff/members"), "Alice") == []
    assert my_roles(alice) == "member"


def test_making_someone_staff_needs_an_admin(staff_client, admin_client, alice, box):
    alice_id = member_id("Alice")
    before = record_count(box)

    refused = staff_client.submit(
        staff_client.get("/staff/members"),
        action=f"/staff/members/{alice_id}/roles",
        data={"role": "staff"},
    )

    assert refused.status_code == 403
    page = Page(refused)
    assert page.one("div", class_="problem").text() == (
        "Only an admin can make someone staff or admin."
    )
    assert roles_of(page, "Alice") == []
    assert record_count(box) == before
    alice.get("/staff/members", status=403)

    granted = admin_client.submit(
        admin_client.get("/staff/members"),
        action=f"/staff/members/{alice_id}/roles",
        data={"role": "Staff "},
    )
    assert granted.status_code == 302
    assert roles_of(admin_client.follow(granted), "Alice") == ["staff"]
    assert alice.get("/staff/members").one("h1").text() == "Members"
    assert record_count(box) == before + 1


def test_revoke_a_role(admin_client, staff_client, alice, box):
    alice_id = member_id("Alice")
    admin_client.post(f"/staff/members/{alice_id}/roles", {"role": "staff"}, via="/me")
    alice.get("/staff/members")
    before = record_count(box)

    # Staff cannot take staff away; the admin can.
    refused = staff_client.submit(
        staff_client.get("/staff/members"), action=f"/staff/members/{alice_id}/roles/staff/revoke"
    )
    assert refused.status_code == 403
    assert Page(refused).one("div", class_="problem").text() == (
        "Only an admin can remove staff or admin."
    )
    assert record_count(box) == before

    page = admin_client.get("/staff/members")
    remove = row(page, "Alice").one(
        "button", class_="link", aria_label="Remove role staff from Alice"
    )
    assert remove.text() == "×"
    page = admin_client.follow(
        admin_client.submit(page, action=f"/staff/members/{alice_id}/roles/staff/revoke")
    )
    assert flash_of(page) == "Role removed."
    assert roles_of(page, "Alice") == []
    alice.get("/staff/members", status=403)
    assert record_count(box) == before + 1

    again = admin_client.post(f"/staff/members/{alice_id}/roles/staff/revoke", via="/me")
    assert again.status_code == 409
    assert Page(again).one("div", class_="problem").text() == "Alice does not have that role."
    assert record_count(box) == before + 1


@pytest.mark.parametrize(
    "data, message",
    [
        ({"role": "Bad Role!"}, "A role is one word of lowercase letters, like driver."),
        ({"role": ""}, "A role is one word of lowercase letters, like driver."),
        ({"role": "driver", "expires": "2027-03-16"}, "That date has already passed."),
        ({"role": "driver", "expires": "someday"}, "Please give the date as YYYY-MM-DD."),
    ],
)
def test_a_bad_role_is_refused_with_a_message(staff_client, alice, box, data, message):
    before = record_count(box)
    response = staff_client.submit(
        staff_client.get("/staff/members"),
        action=f"/staff/members/{member_id('Alice')}/roles",
        data=data,
    )
    assert response.status_code == 400
    form = row(Page(response), "Alice").one(
        "form", action=f"/staff/members/{member_id('Alice')}/roles"
    )
    assert message in [p.text() for p in form.find_all("p", class_="error")]
    assert roles_of(Page(response), "Alice") == []
    assert record_count(box) == before


def test_a_bad_role_is_shown_beside_the_field_with_what_was_typed(staff_client, alice):
    response = staff_client.submit(
        staff_client.get("/staff/members"),
        action=f"/staff/members/{member_id('Alice')}/roles",
        data={"role": "Bad Role!", "expires": "2027-04-01"},
    )
    form = row(Page(response), "Alice").one(
        "form", action=f"/staff/members/{member_id('Alice')}/roles"
    )
    assert form.one("input", name="role").value() == "Bad Role!"
    assert form.one("input", name="expires").value() == "2027-04-01"
    assert "A role is one word of lowercase letters, like driver." in form.text()


# --- categories and places --------------------------------------------------------------


def category_options(browser: Browser) -> dict[str, str]:
    """Return the posting form's categories as slug -> label."""
    select = browser.get("/new/form").field("category")
    return {o.attrs["value"]: o.text() for o in select.find_all("option") if o.attrs["value"]}


def place_options(browser: Browser) -> list[str]:
    return [o.attrs["value"] for o in browser.get("/new/form").one("datalist").find_all("option")]


def test_the_default_categories_are_offered(alice):
    assert category_options(alice) == {
        "food": "Food",
        "household": "Household items",
        "local-fix": "Local fixes",
        "other": "Something else",
        "travel": "Travel and lifts",
        "volunteering": "Volunteering",
    }


def test_add_a_category_and_it_appears_in_both_posting_flows(staff_client, alice, box):
    before = record_count(box)
    page = staff_client.get("/staff/centre")

    response = staff_client.submit(
        page, data={"label": "Pets and animals"}, containing="Add category"
    )

    page = staff_client.follow(response)
    assert flash_of(page) == "Categories updated."
    assert page.one("input", id="cat-pets-and-animals").value() == "Pets and animals"
    assert category_options(alice)["pets-and-animals"] == "Pets and animals"
    assert record_count(box) == before + 1
    # The chat's category question offers it too.
    chat = alice.get("/new?flow=chat")
    for name, value in [("type", "need"), ("title", "Dog walker"), ("place", "The park")]:
        chat = Page(alice.submit(chat, action="/new", data={name: value}, button="next"))
    assert chat.find("input", name="category", value="pets-and-animals") is not None
    new_post(alice, category="pets-and-animals", title="Dog walker needed")
    assert (
        "Pets and animals"
        in alice.get("/?category=pets-and-animals").one("li", class_="card").text()
    )


def test_rename_a_category_keeps_its_slug_and_relabels_posts(staff_client, alice):
    post_id = new_post(alice, category="food")
    page = staff_client.get("/staff/centre")
    rename = next(
        f for f in page.find_all("form", class_="inline-form") if f.find("input", id="cat-food")
    )
    assert rename.one("input", name="slug", type="hidden").value() == "food"

    response = staff_client.submit(page, form=rename, data={"label": "Food and drink"})

    assert response.status_code == 302
    options = category_options(alice)
    assert options["food"] == "Food and drink"
    assert "Food" not in options.values()
    assert "Food and drink" in alice.get(f"/posts/{post_id}").one("article").text()


def test_retire_a_category_and_bring_it_back(staff_client, alice, box):
    page = staff_client.get("/staff/centre")
    retire = _category_form(page, "volunteering", "Retire")

    response = staff_client.submit(page, form=retire)

    assert response.status_code == 302
    assert "volunteering" not in category_options(alice)
    page = staff_client.get("/staff/centre")
    assert "(retired)" in _category_form(page, "volunteering", "Rename").text()
    # A retired category can no longer be chosen.
    before = record_count(box)
    refused = alice.submit(
        alice.get("/new/form"),
        data={
            "type": "need",
            "title": "Helpers",
            "place": "Hall",
            "category": "volunteering",
        },
    )
    assert refused.status_code == 400
    assert Page(refused).error_for("category") == "Please choose one of the centre's categories."
    assert record_count(box) == before

    bring_back = _category_form(page, "volunteering", "Bring back")
    staff_client.submit(page, form=bring_back)
    assert category_options(alice)["volunteering"] == "Volunteering"


def test_add_and_remove_a_place_as_a_suggestion_on_the_posting_form(staff_client, alice, box):
    assert place_options(alice) == []
    page = staff_client.get("/staff/centre")
    page = staff_client.follow(
        staff_client.submit(page, data={"place": "  Church   Hall "}, containing="Add place")
    )
    assert flash_of(page) == "Places updated."
    staff_client.submit(page, data={"place": "Allotments"}, containing="Add place")
    assert place_options(alice) == ["Allotments", "Church Hall"]
    assert "Church Hall" in [
        o.attrs["value"] for o in alice.get("/").one("datalist").find_all("option")
    ]

    page = staff_client.get("/staff/centre")
    remove = page.one("button", aria_label="Remove place Church Hall").closest("form")
    response = staff_client.submit(page, form=remove)
    assert response.status_code == 302
    assert place_options(alice) == ["Allotments"]


@pytest.mark.parametrize(
    "url, data, field, message",
    [
        (
            "/staff/centre/categories",
            {"label": "  "},
            "label",
            "Please give the category a name (60 characters at most).",
        ),
        (
            "/staff/centre/categories",
            {"label": "L" * 61},
            "label",
            "Please give the category a name (60 characters at most).",
        ),
        (
            "/staff/centre/categories",
            {"label": "!!!"},
            "label",
            "Please use some letters or numbers in the name.",
        ),
        (
            "/staff/centre/places",
            {"place": "P" * 81},
            "place",
            "Please give the place a name (80 characters at most).",
        ),
    ],
)
def test_bad_category_or_place_is_refused_beside_the_field(
    staff_client, box, url, data, field, message
):
    before = record_count(box)
    page = staff_client.get("/staff/centre")
    response = staff_client.client.post(url, data={"csrf_token": page.csrf_token(), **data})
    assert response.status_code == 400
    again = Page(response)
    new_field = [
        n for n in again.find_all("input", name=field) if n.attrs.get("id") == f"f-{field}"
    ]
    assert len(new_field) == 1
    block = new_field[0].closest("div", class_="field")
    assert block.one(class_="error").text() == message
    assert record_count(box) == before


def test_a_refused_category_keeps_what_was_typed(staff_client):
    page = staff_client.get("/staff/centre")
    response = staff_client.submit(page, data={"label": "L" * 61}, containing="Add category")
    assert response.status_code == 400
    assert Page(response).one("input", id="f-label").value() == "L" * 61


def test_a_forged_category_slug_is_a_clear_400(staff_client, box):
    page = staff_client.get("/staff/centre")
    before = record_count(box)
    try:
        response = staff_client.client.post(
            "/staff/centre/categories",
            data={"csrf_token": page.csrf_token(), "label": "Pets", "slug": "Bad Slug!"},
        )
    except Exception as exc:  # TESTING propagates the server error to the test
        raise AssertionError(f"server error: {exc!r}") from exc
    finally:
        assert record_count(box) == before
    assert response.status_code == 400


def _category_form(page: Page, slug: str, button: str):
    forms = [
        f
        for f in page.find_all("form", action="/staff/centre/categories")
        if f.find("input", name="slug", value=slug) and f.one("button").text() == button
    ]
    assert len(forms) == 1, forms
    return forms[0]


def test_admin_is_verified_and_listed(admin_client):
    page = admin_client.get("/staff/members")
    assert roles_of(page, ADMIN) == ["admin"]
    assert "✓" in verify_cell(page, ADMIN).text()


def test_a_role_until_today_lasts_to_the_end_of_today(staff_client, alice, clock):
    # Granting a role that ends "today" still works until the end of today.
    today = "2027-03-17"
    response = staff_client.post(
        f"/staff/members/{member_id('Alice')}/roles",
        {"role": "driver", "expires": today},
        via="/staff/members",
    )
    assert response.status_code == 302
    clock.advance(DAY_MS)
    assert roles_of(staff_client.get("/staff/members"), "Alice") == []
