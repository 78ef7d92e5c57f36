// The kiosk: show the big panel's posts one at a time, and keep the board current by
// polite polling of /kiosk/state (an unchanged board answers 304). It never navigates,
// so the browser never shows an error page: while the server is away it keeps the last
// good board, says it is reconnecting, and retries less and less often until it is back.
// Without this file the page is a plain list of everything, as it was when loaded.
(function () {
  "use strict";
  var live = document.getElementById("k-live");
  if (!live || !window.fetch || !("content" in document.createElement("template"))) return;
  document.documentElement.classList.add("k-js");

  var POLL_MS = 25000;      // an unchanged board: one small request every 20 to 30 s
  var JITTER = 0.2;         // spread kiosks (and restarts) so they never poll in step
  var RETRY_MS = 5000;      // first retry when the server is away, then doubling...
  var RETRY_MAX_MS = 120000; // ...up to two minutes
  var TIMEOUT_MS = 15000;   // a request hanging longer than this counts as failed
  var SLIDE_MS = 12000;     // time each post stays in the big panel

  var url = live.getAttribute("data-state-url");
  var etag = live.getAttribute("data-etag");
  var note = document.getElementById("k-offline");
  var pause = document.getElementById("k-pause");
  var failures = 0;
  var current = null;       // id of the post in the big panel
  var paused = false;
  var slideTimer = null;

  function jittered(ms) { return Math.round(ms * (1 - JITTER + 2 * JITTER * Math.random())); }

  function slides() { return live.querySelectorAll(".k-rotation > li"); }

  function show(index) {
    var all = slides();
    if (pause) pause.hidden = all.length < 2;
    if (!all.length) { current = null; return; }
    index = ((index % all.length) + all.length) % all.length;
    for (var i = 0; i < all.length; i++) all[i].classList.toggle("k-current", i === index);
    current = all[index].getAttribute("data-id");
    var count = live.querySelector(".k-count");
    if (count) count.textContent = all.length > 1 ? (index + 1) + " / " + all.length : "";
  }

  function currentIndex() {
    var all = slides();
    for (var i = 0; i < all.length; i++) {
      if (all[i].getAttribute("data-id") === current) return i;
    }
    return -1;
  }

  function rotate() {
    clearTimeout(slideTimer);
    slideTimer = setTimeout(function () {
      if (!paused) show(currentIndex() + 1);
      rotate();
    }, SLIDE_MS);
  }

  function swap(html, tag) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var next = holder.content.querySelector(".k-state");
    if (!next) throw new Error("not the kiosk's board");
    var old = live.querySelector(".k-state");
    if (old) live.replaceChild(next, old); else live.appendChild(next);
    etag = tag;
    show(Math.max(0, currentIndex()));  // the same post stays up if it is still there
  }

  function offline(away) {
    note.textContent = away ? note.getAttribute("data-text") : "";
    document.documentElement.classList.toggle("k-away", away);
  }

  function schedule(ms) { setTimeout(poll, ms); }

  function poll() {
    var headers = {};
    if (etag) headers["If-None-Match"] = etag;
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
    live.setAttribute("aria-busy", "true");
    fetch(url, {
      headers: headers,
      credentials: "same-origin",
      cache: "no-store",  // the ETag above does the caching, so a 304 reaches us
      signal: controller ? controller.signal : undefined
    })
      .then(function (response) {
        if (response.status === 304) return null;
        if (!response.ok) throw new Error("status " + response.status);
        var tag = response.headers.get("ETag");
        return response.text().then(function (html) { return { html: html, tag: tag }; });
      })
      .then(function (got) {
        clearTimeout(timer);
        live.removeAttribute("aria-busy");
        if (got) swap(got.html, got.tag);
        failures = 0;
        offline(false);
        schedule(jittered(POLL_MS));
      })
      .catch(function () {
        clearTimeout(timer);
        live.removeAttribute("aria-busy");
        failures += 1;
        offline(true);
        schedule(jittered(Math.min(RETRY_MAX_MS, RETRY_MS * Math.pow(2, failures - 1))));
      });
  }

  if (pause) {
    pause.addEventListener("click", function () {
      paused = !paused;
      pause.setAttribute("aria-pressed", paused ? "true" : "false");
    });
  }
  show(0);
  rotate();
  schedule(jittered(POLL_MS));
})();
