// Enhance the posting steps into a chat: submit each answer in the background and
// swap in the next question without a page load. Without this file the same steps
// work as ordinary pages.
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  if (!chat || !window.fetch || !window.DOMParser) return;
  chat.classList.add("enhanced");

  function focusQuestion() {
    var input = chat.querySelector(".chat-form [aria-invalid=true], .chat-form input:not([type=hidden]), .chat-form textarea, .chat-form button.primary");
    if (input) input.focus({ preventScroll: true });
    chat.querySelector(".chat-form").scrollIntoView({ block: "end", behavior: "smooth" });
  }

  chat.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList.contains("chat-form")) return;
    var pressed = event.submitter;
    // Posting ends on the new post's page: let the browser go there itself, so the
    // one-time "your post is on the board" message is shown on that page.
    if (form.elements.step.value === "review" && !(pressed && pressed.name === "back")) return;
    event.preventDefault();
    var data = new FormData(form);
    if (pressed && pressed.name) data.append(pressed.name, pressed.value);
    chat.classList.add("busy");
    chat.setAttribute("aria-busy", "true");
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) {
        if (response.redirected) { window.location.assign(response.url); return null; }
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        var page = new DOMParser().parseFromString(html, "text/html");
        var next = page.getElementById("chat");
        if (!next) { form.submit(); return; }
        chat.innerHTML = next.innerHTML;
        chat.classList.remove("busy");
        chat.removeAttribute("aria-busy");
        focusQuestion();
      })
      .catch(function () { form.submit(); });
  });
})();
