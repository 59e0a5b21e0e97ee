// Instance pages: the QR countdown. Counts down to data-countdown-until (an ISO time rendered by the
// server); the server decides expiry and pushes the new state, this only shows the seconds left.
(function () {
  "use strict";
  function tick() {
    document.querySelectorAll("[data-countdown-until]").forEach(function (el) {
      var until = Date.parse(el.dataset.countdownUntil);
      if (isNaN(until)) return;
      el.textContent = String(Math.max(0, Math.round((until - Date.now()) / 1000)));
    });
  }
  tick();
  setInterval(tick, 1000);
  document.body.addEventListener("htmx:oobAfterSwap", tick);
  document.body.addEventListener("htmx:afterSwap", tick);

  // The WhatsApp settings form answers a refusal (400 invalid, 422 gateway refused, 503 gateway silent) with
  // itself and the reason: show it instead of dropping it, then move the focus to what needs attention.
  var SETTINGS_ERRORS = [400, 422, 503];
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "instance-settings" && event.detail.xhr &&
        SETTINGS_ERRORS.indexOf(event.detail.xhr.status) !== -1 && event.detail.serverResponse) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:afterSettle", function (event) {
    var section = document.getElementById("instance-settings");
    if (!section || !event.detail.xhr || !/\/settings\/$/.test(new URL(event.detail.xhr.responseURL).pathname)) return;
    var focus = section.querySelector("[aria-invalid=true], [data-testid=settings-error], [data-testid=settings-saved]");
    if (focus) focus.focus();
  });
})();
