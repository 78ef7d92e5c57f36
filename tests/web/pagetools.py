"""Helpers for web tests: boxes on a settable clock, a small HTML tree, and a browser
that fills in and submits the pages' own forms (csrf_token included).

There is no HTML library in the test environment, so pages are parsed with the standard
library's html.parser into a tree that is just rich enough to ask "which error sits in
the same field as this input" and "what would this form send".
"""

from __future__ import annotations

import datetime
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from kithtest import Clock
from werkzeug.test import TestResponse

from appliance.box import Box
from appliance.models import Member
from appliance.services import accounts, centre

PASSWORD = "correct horse battery"
ADMIN = "Admin"
ADMIN_PASSWORD = "admin-password"
PHONE = {
    "User-Agent": "Mozilla/5.0 (Linux; Android 13; SM-A135F) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
}
DESKTOP = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}

# 2027-03-17 12:00 UTC: a Wednesday in the middle of a month, noon in London (GMT).
START = datetime.datetime(2027, 3, 17, 12, 0, tzinfo=datetime.UTC)
START_MS = int(START.timestamp() * 1000)
DAY_MS = 86_400_000

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
# Elements whose end tag may be left out: a new one closes the open one.
SELF_CLOSING_SIBLINGS = {"li", "option", "p", "dt", "dd", "tr", "td", "th"}


def make_box(path: Path, clock: Clock, overrides: dict | None = None) -> Box:
    """Make a box with settings overrides, a centre and a verified admin, as init_box does."""
    box = Box.create(path, overrides)
    box.log.now_ms = clock
    centre.create_centre(box, "Test Centre")
    admin = accounts.sign_up(box, ADMIN, ADMIN_PASSWORD)
    box.log.append("role.granted", {"role": "admin", "expires": None}, subject=admin)
    box.log.append("member.verified", {}, subject=admin)
    return box


def member_id(name: str) -> str:
    """Return the id of the member with this display name."""
    return Member.get(Member.name == name).id


def actor(box: Box, name: str) -> accounts.Actor:
    return accounts.actor_for(box, member_id(name))


def record_count(box: Box) -> int:
    """Return how many signed records the box holds (what every change adds to)."""
    return sum(1 for _ in box.log.export())


# --- a small HTML tree ------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list = field(default_factory=list)

    def __repr__(self) -> str:
        shown = " ".join(f'{k}="{v}"' for k, v in self.attrs.items())
        return f"<{self.tag} {shown}>"

    def iter(self):
        """Yield this node and every element below it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        """Return the text inside, with runs of whitespace made single spaces."""
        parts: list[str] = []

        def walk(node: Node) -> None:
            for child in node.children:
                if isinstance(child, Node):
                    walk(child)
                else:
                    parts.append(child)

        walk(self)
        return " ".join("".join(parts).split())

    def matches(self, tag: str | None, attrs: dict) -> bool:
        if tag and self.tag != tag:
            return False
        for name, want in attrs.items():
            name = name.rstrip("_").replace("_", "-")
            if name == "class":
                if want not in self.classes:
                    return False
            elif want is True:
                if name not in self.attrs:
                    return False
            elif self.attrs.get(name) != want:
                return False
        return True

    def find_all(self, tag: str | None = None, **attrs) -> list[Node]:
        """Return every element below (or at) this one with the tag and attributes.

        `class_="x"` matches any element with class x; `value=True` means "has a value".
        """
        return [n for n in self.iter() if n.matches(tag, attrs)]

    def find(self, tag: str | None = None, **attrs) -> Node | None:
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def one(self, tag: str | None = None, **attrs) -> Node:
        """Return the only matching element; fail the test if there are none or several."""
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}: {found}"
        return found[0]

    def closest(self, tag: str | None = None, **attrs) -> Node | None:
        node = self.parent
        while node is not None:
            if node.matches(tag, attrs):
                return node
            node = node.parent
        return None

    def value(self) -> str:
        """Return what a form control holds (a textarea's text, an input's value)."""
        if self.tag == "textarea":
            return "".join(c for c in self.children if isinstance(c, str)).removeprefix("\n")
        if self.tag == "select":
            # Like a browser: the selected option, else the first one.
            options = self.find_all("option")
            chosen = [o for o in options if "selected" in o.attrs] or options[:1]
            return chosen[0].attrs.get("value", chosen[0].text()) if chosen else ""
        return self.attrs.get("value", "")


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        if tag in SELF_CLOSING_SIBLINGS and self.stack[-1].tag == tag:
            self.stack.pop()
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


class Page:
    """A response with its parsed HTML."""

    def __init__(self, response: TestResponse):
        self.response = response
        self.status = response.status_code
        self.html = response.get_data(as_text=True)
        self.doc = parse(self.html)

    def __repr__(self) -> str:
        return f"<Page {self.status} {self.url}>"

    @property
    def url(self) -> str:
        request = self.response.request
        query = request.query_string.decode()
        return request.path + ("?" + query if query else "")

    def text(self) -> str:
        return self.doc.text()

    def find_all(self, tag=None, **attrs):
        return self.doc.find_all(tag, **attrs)

    def find(self, tag=None, **attrs):
        return self.doc.find(tag, **attrs)

    def one(self, tag=None, **attrs):
        return self.doc.one(tag, **attrs)

    def csrf_token(self) -> str:
        tokens = {n.attrs["value"] for n in self.find_all("input", name="csrf_token")}
        assert tokens, f"no csrf_token on {self!r}"
        assert len(tokens) == 1, f"several csrf tokens on one page: {tokens}"
        return tokens.pop()

    def form(self, action: str | None = None, containing: str | None = None) -> Node:
        """Return the one POST form in <main> to `action`, holding a button with that text."""
        main = self.one("main")  # the header's log-out form is never the one meant
        forms = [
            f
            for f in main.find_all("form", method="post")
            # A fragment only scrolls the answer page: the path alone also names the form.
            if (
                action is None
                or action
                in (
                    f.attrs.get("action", self.response.request.path),
                    f.attrs.get("action", "").split("#")[0],
                )
            )
            and (containing is None or any(containing == b.text() for b in f.find_all("button")))
        ]
        assert len(forms) == 1, f"expected one form for {action!r}/{containing!r}: {forms}"
        return forms[0]

    def controls(self, name: str) -> list[Node]:
        """Return the visible controls named `name` (inputs, textareas and selects)."""
        return [
            n
            for n in self.doc.iter()
            if n.tag in ("input", "textarea", "select")
            and n.attrs.get("name") == name
            and n.attrs.get("type") != "hidden"
        ]

    def field(self, name: str) -> Node:
        """Return the one visible control named `name` (input, textarea or select)."""
        found = self.controls(name)
        assert len(found) == 1, f"expected one field {name!r}, found {found}"
        return found[0]

    def error_for(self, name: str) -> str | None:
        """Return the error text shown beside field `name`, or None.

        "Beside" means in the same labelled block (div.field or fieldset) as the control;
        where there is no such block (the chat steps), the error the control points at
        with aria-describedby, as a screen reader would read it.
        """
        controls = self.controls(name)
        assert controls, f"no field {name!r} on {self!r}"
        control = controls[0]  # the first of a group of radio buttons
        block = control.closest("div", class_="field") or control.closest("fieldset")
        if block is not None:
            errors = block.find_all(class_="error")
        else:
            ids = control.attrs.get("aria-describedby", "").split()
            errors = [e for e in self.find_all(class_="error") if e.attrs.get("id") in ids]
        if not errors:
            return None
        assert len(errors) == 1, errors
        return errors[0].text()

    def links(self) -> list[str]:
        return [a.attrs["href"] for a in self.find_all("a") if "href" in a.attrs]


def form_values(form: Node) -> list[tuple[str, str]]:
    """Return what a browser would send for this form without pressing a named button."""
    values = []
    for node in form.iter():
        name = node.attrs.get("name")
        if not name or "disabled" in node.attrs:
            continue
        if node.tag == "input":
            kind = node.attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in node.attrs:
                    values.append((name, node.attrs.get("value", "on")))
            elif kind not in ("submit", "button", "image", "reset"):
                values.append((name, node.attrs.get("value", "")))
        elif node.tag in ("textarea", "select"):
            values.append((name, node.value()))
    return values


class Browser:
    """A test client used the way a person's browser uses the board."""

    def __init__(self, client: FlaskClient, headers: dict | None = None):
        self.client = client
        self.headers = headers or {}

    def get(self, url: str, status: int | None = 200, **kw) -> Page:
        response = self.client.get(url, headers=self.headers, **kw)
        if status is not None:
            assert response.status_code == status, (url, response.status_code)
        return Page(response)

    def token(self, url: str = "/signup") -> str:
        """Fetch a page and return the csrf_token of its forms."""
        return self.get(url, status=None).csrf_token()

    def post(self, url: str, data=None, via: str = "/signup", csrf: bool = True):
        """POST data with a csrf token taken from page `via`, as a real form would."""
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.token(via)
        return self.client.post(url, data=data, headers=self.headers)

    def submit(
        self,
        page: Page,
        action: str | None = None,
        data: dict | None = None,
        button: str | None = None,
        containing: str | None = None,
        form: Node | None = None,
    ) -> TestResponse:
        """Fill in a form on the page and send it with the browser's rules.

        The form is `form`, or the one found by `action` and a button text `containing`.
        `data` replaces the values of the named fields (a radio button's choice too);
        `button` is the name of the pressed button, sent with its value.
        """
        form = form if form is not None else page.form(action, containing)
        sent = dict(data or {})
        values = [(k, v) for k, v in form_values(form) if k not in sent]
        for name, value in sent.items():
            if value is not None:
                values.append((name, value))
        if button:
            pressed = form.one("button", name=button)
            values.append((button, pressed.attrs.get("value", "")))
        # A form without an action posts to the page's own URL, query string included.
        target = form.attrs.get("action") or page.url
        method = form.attrs.get("method", "get").lower()
        assert method == "post", form
        body = {}
        for k, v in values:
            body.setdefault(k, []).append(v)
        return self.client.post(target, data=body, headers=self.headers)

    def follow(self, response: TestResponse, status: int = 200) -> Page:
        """Follow a redirect, as the browser does after a form is accepted."""
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        location = urlsplit(response.headers["Location"])
        url = location.path + ("?" + location.query if location.query else "")
        return self.get(url, status=status)

    def signup(self, name: str, password: str = PASSWORD, contact: str = "") -> TestResponse:
        page = self.get("/signup")
        return self.submit(page, data={"name": name, "password": password, "contact": contact})

    def login(self, name: str, password: str = PASSWORD) -> TestResponse:
        page = self.get("/login")
        return self.submit(page, data={"name": name, "password": password})


def flash_of(page: Page) -> str:
    """Return the text of the page's flash message, or "" when there is none."""
    node = page.find(class_="flash")
    return node.text() if node else ""


def post_ids(page: Page) -> list[str]:
    """Return the ids of the posts listed on a board page, in order."""
    ids = []
    for card in page.find_all("li", class_="card"):
        href = card.one("h2").one("a").attrs["href"]
        ids.append(re.fullmatch(r"/posts/([0-9a-f]{64})", href).group(1))
    return ids


POST_DEFAULTS = {
    "type": "need",
    "title": "Lift to the hospital on Friday",
    "place": "Mill Lane",
    "category": "travel",
    "details": "Appointment at 10, back by 1.",
    "needed_by": "",
}


def new_post(browser: Browser, **fields) -> str:
    """Post through the one-page form as this browser's member; return the post id."""
    page = browser.get("/new/form")
    response = browser.submit(page, data={**POST_DEFAULTS, **fields})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    match = re.fullmatch(r"/posts/([0-9a-f]{64})", urlsplit(response.headers["Location"]).path)
    assert match, response.headers["Location"]
    return match.group(1)


def recordmaker():
    """Return tests/appliance/recordmaker.py (signed records of a made-up peer box), which
    is on sys.path only when the appliance tests run in the same session."""
    if "recordmaker" in sys.modules:
        return sys.modules["recordmaker"]
    path = Path(__file__).parents[1] / "appliance" / "recordmaker.py"
    spec = importlib.util.spec_from_file_location("recordmaker", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["recordmaker"] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module
