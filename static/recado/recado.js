// Recado page glue (loaded with the CSP nonce-free 'self' policy). Keeps the one WebSocket per tab
// subscribed to what the page shows, and makes live regions re-fetch themselves after a reconnect,
// when the tab becomes visible again, and on a slow timer (pushes are hints, the database is the truth).
(function () {
  "use strict";
  var company = document.body.dataset.company;

  function subscriptions() {
    return Array.prototype.map.call(document.querySelectorAll("[data-live-topic]"), function (el) {
      return { action: "subscribe", company: company, topic: el.dataset.liveTopic, id: el.dataset.liveId || null };
    });
  }

  function resync() {
    document.querySelectorAll("[data-live-topic][hx-get]").forEach(function (el) {
      htmx.trigger(el, "recado:resync");
    });
  }

  document.body.addEventListener("htmx:wsOpen", function (event) {
    if (!company) return;
    var socket = event.detail.socketWrapper;
    subscriptions().forEach(function (message) { socket.send(JSON.stringify(message)); });
    resync();
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") resync();
  });
  setInterval(resync, 60000);
})();
