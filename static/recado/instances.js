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
})();
