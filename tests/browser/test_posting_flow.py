"""The posting chat on a phone, with JavaScript on (a chat without page loads) and off
(the same questions as plain pages), its errors, and the board on a phone."""

from __future__ import annotations

import datetime
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

QUESTIONS = {
    "type": "Hello! What would you like to post?",
    "title": "In a few words, what is it?",
    "place": "Where is it?",
    "category": "What kind of thing is it?",
    "details": "Anything else people should know?",
    "review": "Here is your post. Shall I put it on the board?",
}


def unique_word() -> str:
    return "zq" + uuid.uuid4().hex[:10]


class Chat:
    """Drives /new on one page and checks what each step must hold."""

    def __init__(self, page, js: bool):
        self.page = page
        self.js = js
        self.documents: list[str] = []  # page loads (navigations) since the chat opened
        page.on("request", self._seen)

    def _seen(self, request):
        if request.resource_type == "document" and request.frame == self.page.main_frame:
            self.documents.append(f"{request.method} {request.url}")

    def open(self):
        self.page.goto("/new")
        assert urlsplit(self.page.url).path == "/new", "a phone should get the chat, not the form"
        self.expect_step("type")
        if self.js:
            expect(self.page.locator("#chat")).to_contain_class("enhanced")
            self.page.evaluate("window.__marker = 'still the same page'")
        else:
            expect(self.page.locator("#chat")).not_to_contain_class("enhanced")
        self.documents.clear()

    def expect_step(self, name: str):
        expect(self.page.locator("#chat-form input[name=step]")).to_have_value(name)
        expect(self.page.locator("#chat .question")).to_have_text(QUESTIONS[name])
        expect(self.page.locator("#chat")).not_to_contain_class("busy")

    def expect_history(self, answers: list[str]):
        """Each earlier question and answer is a pair of chat bubbles, in order."""
        bubbles = self.page.locator("#chat .log li")
        expect(bubbles).to_have_count(2 * len(answers))
        expect(self.page.locator("#chat .log li.me")).to_have_text(answers)
        bots = self.page.locator("#chat .log li.bot")
        expect(bots).to_have_text(list(QUESTIONS.values())[: len(answers)])
        for i in range(len(answers)):
            me = self.page.locator("#chat .log li.me").nth(i).bounding_box()
            bot = bots.nth(i).bounding_box()
            # The person's bubble sits on the right, the question on the left.
            assert me["x"] + me["width"] > bot["x"] + bot["width"], "answer bubble not on the right"

    def press(self, label: str):
        button = self.page.locator("#chat-form").get_by_role("button", name=label, exact=True)
        if self.js:
            button.tap()
            expect(self.page.locator("#chat")).not_to_contain_class("busy")
        else:
            before = len(self.documents)
            with self.page.expect_navigation():
                button.tap()
            assert len(self.documents) == before + 1, "without JavaScript each step is a page"

    def assert_same_page(self):
        """With JavaScript the chat never reloads: the page's own marker survives."""
        if self.js:
            assert self.page.evaluate("window.__marker") == "still the same page", (
                "the page reloaded between chat steps"
            )
            assert self.documents == [], f"chat steps loaded pages: {self.documents}"


def answer_every_question(chat: Chat, word: str, shots=None) -> tuple[str, str]:
    """Answer each question up to the review; return the title and the details."""
    page = chat.page
    title = f"Somebody should fix the bench by the pond {word}"
    due = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()

    page.get_by_role("radio", name="Somebody should").check()
    chat.press("Next")
    chat.expect_step("title")
    chat.assert_same_page()
    chat.expect_history(["Somebody should…"])
    if chat.js:
        expect(page.locator("#f-title")).to_be_focused()

    page.get_by_label(QUESTIONS["title"]).fill(title)
    chat.press("Next")
    chat.expect_step("place")
    chat.assert_same_page()
    chat.expect_history(["Somebody should…", title])

    page.get_by_label(QUESTIONS["place"]).fill("Riverside estate")
    chat.press("Next")
    chat.expect_step("category")
    chat.assert_same_page()
    chat.expect_history(["Somebody should…", title, "Riverside estate"])

    page.get_by_role("radio", name="Local fixes").check()
    chat.press("Next")
    chat.expect_step("details")
    chat.assert_same_page()
    chat.expect_history(["Somebody should…", title, "Riverside estate", "Local fixes"])
    if shots is not None:
        settle_scroll(page)
        page.screenshot(path=str(shots / "chat-mid-phone.png"))
        page.screenshot(path=str(shots / "chat-mid-phone-full.png"), full_page=True)
    assert_no_sideways_scroll(page)

    details = f"Two planks are broken and a child scraped a knee. {word}"
    page.get_by_label(QUESTIONS["details"]).fill(details)
    page.get_by_label("Needed by a date?").fill(due)
    chat.press("Next")
    chat.expect_step("review")
    chat.assert_same_page()
    answers = ["Somebody should…", title, "Riverside estate", "Local fixes", details]
    expect(page.locator("#chat .log li.me")).to_have_count(len(answers))
    expect(page.locator("#chat .log li.me").last).to_contain_text(details)
    expect(page.locator("#chat .log li.me").last).to_contain_text("Needed by")
    chat.expect_history([*answers[:-1], page.locator("#chat .log li.me").last.inner_text()])
    return title, details


def post_through_chat(chat: Chat, word: str, shots=None) -> str:
    page = chat.page
    title, details = answer_every_question(chat, word, shots)
    page.locator("#chat-form").get_by_role("button", name="Post it").tap()
    page.wait_for_url("**/posts/*")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    if not chat.js:  # with JavaScript see test_the_chat_says_the_post_is_on_the_board
        expect(page.locator(".flash")).to_contain_text("Your post is on the board")
    expect(page.locator("article.post .tag")).to_have_text("Somebody should")
    expect(page.locator("article.post .details")).to_contain_text(details)
    expect(page.locator("article.post")).to_contain_text("Riverside estate")
    if chat.js:
        assert page.evaluate("window.__marker") is None, "the end of the chat is a new page"
    return title


def settle_scroll(page):
    """Wait for chat.js's smooth scroll to finish before a screenshot."""
    page.evaluate(
        """() => new Promise(done => {
            let last = -1, still = 0;
            (function tick() {
                if (window.scrollY === last && ++still > 5) return done();
                if (window.scrollY !== last) still = 0;
                last = window.scrollY;
                requestAnimationFrame(tick);
            })();
        })"""
    )


def assert_no_sideways_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (
        f"{page.url} scrolls sideways on a phone: {width}px wide"
    )


def expect_on_board(page, word: str, title: str):
    page.goto(f"/?q={word}")
    expect(page.locator(".posts .card")).to_have_count(1)
    link = page.locator(".posts .card h2 a")
    expect(link).to_have_text(title)
    expect(page.locator(".count")).to_have_text("1 post")


@pytest.mark.parametrize("js", [True, False], ids=["js-on", "js-off"])
def test_post_a_somebody_should_through_the_chat(new_page, log_in, shots_dir, js):
    page = new_page("phone", java_script_enabled=js)
    log_in(page, "Grace Liu")
    chat = Chat(page, js)
    chat.open()
    word = unique_word()
    title = post_through_chat(chat, word, shots=shots_dir if js else None)
    expect_on_board(page, word, title)


def test_the_chat_says_the_post_is_on_the_board(new_page, signed_in):
    page = new_page("phone", storage_state=signed_in("Grace Liu"))
    chat = Chat(page, js=True)
    chat.open()
    title, _ = answer_every_question(chat, unique_word())
    page.locator("#chat-form").get_by_role("button", name="Post it").tap()
    page.wait_for_url("**/posts/*")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".flash")).to_contain_text("Your post is on the board", timeout=500)


@pytest.mark.parametrize("js", [True, False], ids=["js-on", "js-off"])
def test_an_empty_answer_shows_the_error_beside_the_field(new_page, signed_in, js):
    page = new_page("phone", java_script_enabled=js, storage_state=signed_in("Grace Liu"))
    chat = Chat(page, js)
    chat.open()

    # No choice made: the question stays, with the problem inside its group.
    chat.press("Next")
    chat.expect_step("type")
    chat.assert_same_page()
    error = page.locator("#e-type")
    expect(error).to_have_text("Please choose what kind of post this is.")
    expect(page.locator("#chat-form fieldset")).to_have_attribute("aria-describedby", "e-type")
    page.get_by_role("radio", name="Somebody should").check()
    chat.press("Next")
    chat.expect_step("title")

    for empty in ("", "    "):
        page.get_by_label(QUESTIONS["title"]).fill(empty)
        chat.press("Next")
        chat.expect_step("title")  # did not advance
        chat.assert_same_page()
        chat.expect_history(["Somebody should…"])
        field = page.locator("#f-title")
        error = page.locator("#e-title")
        expect(error).to_have_text("Please say in a few words what this is about.")
        expect(error).to_be_visible()
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_attribute("aria-describedby", "e-title")
        # Beside the field: right above it in the page and on screen.
        assert (
            page.evaluate("document.getElementById('f-title').previousElementSibling.id")
            == "e-title"
        )
        above = error.bounding_box()
        gap = field.bounding_box()["y"] - (above["y"] + above["height"])
        assert 0 <= gap < 24, f"the error is {gap}px away from its field"
        if js:
            expect(field).to_be_focused()

    page.get_by_label(QUESTIONS["title"]).fill("A title after all")
    chat.press("Next")
    chat.expect_step("place")
    chat.assert_same_page()
    expect(page.locator("#chat .error")).to_have_count(0)
    chat.expect_history(["Somebody should…", "A title after all"])


@pytest.mark.parametrize("js", [True, False], ids=["js-on", "js-off"])
def test_enter_in_a_text_answer_goes_forward(new_page, signed_in, js):
    page = new_page("phone", java_script_enabled=js, storage_state=signed_in("Grace Liu"))
    chat = Chat(page, js)
    chat.open()
    page.get_by_role("radio", name="I need something").check()
    chat.press("Next")
    chat.expect_step("title")
    field = page.get_by_label(QUESTIONS["title"])
    field.fill("A ladder for an afternoon")
    field.press("Enter")
    step = page.locator("#chat-form input[name=step]")
    expect(step).not_to_have_value("title")  # the form went somewhere…
    assert step.input_value() == "place", "Enter should answer and go on, not go back"


def test_back_keeps_the_answers(new_page, signed_in):
    page = new_page("phone", storage_state=signed_in("Grace Liu"))
    chat = Chat(page, js=True)
    chat.open()
    page.get_by_role("radio", name="I can offer something").check()
    chat.press("Next")
    page.get_by_label(QUESTIONS["title"]).fill("A spare lawnmower")
    chat.press("Next")
    chat.expect_step("place")
    chat.press("Back")
    chat.expect_step("title")
    chat.assert_same_page()
    expect(page.get_by_label(QUESTIONS["title"])).to_have_value("A spare lawnmower")
    chat.press("Back")
    chat.expect_step("type")
    expect(page.get_by_role("radio", name="I can offer something")).to_be_checked()


def test_a_desktop_gets_the_one_page_form(new_page, signed_in):
    page = new_page("desktop", storage_state=signed_in("Grace Liu"))
    page.goto("/new")
    assert urlsplit(page.url).path == "/new/form"
    expect(page.get_by_role("heading", level=1)).to_have_text("New post")


def test_the_board_on_a_phone(new_page, shots_dir):
    page = new_page("phone")
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Notice board")
    expect(page.locator(".posts .card").first).to_be_visible()
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(shots_dir / "board-phone.png"))
    page.screenshot(path=str(shots_dir / "board-phone-full.png"), full_page=True)
