// Recado page glue (loaded with the CSP nonce-free 'self' policy). Keeps the one WebSocket per tab
// subscribed to what the page shows, and makes live regions re-fetch themselves after a reconnect,
// when the tab becomes visible again, and on a slow timer (pushes are hints, the database is the truth).
(function () {
  "use strict";
  var company = document.body.dataset.company;

  // Pushes go to everyone on a topic, and a page shows only part of it: the row of a conversation in another
  // tab, the bubble of a message on an older page not loaded. htmx reports each such fragment as an error
  // (htmx:oobErrorNoTarget) before dropping it; this extension of the socket drops them first, silently. New
  // rows are unaffected: they come with the list's re-fetch, which the inbox signal (always present) asks for.
  function oobSelector(element) {
    var spec = element.getAttribute("hx-swap-oob") || element.getAttribute("data-hx-swap-oob");
    if (spec === null) return null;
    var colon = spec.indexOf(":");
    return colon > 0 ? spec.slice(colon + 1) : (element.id ? "#" + CSS.escape(element.id) : null);
  }

  function keptProvides(kept, element) {
    var selector = oobSelector(element);
    if (!selector) return false;
    try {
      return kept.some(function (earlier) { return earlier.matches(selector) || earlier.querySelector(selector) !== null; });
    } catch (ignored) { return false; }
  }

  function targetMissing(element) {
    var selector = oobSelector(element);
    if (!selector) return false;
    try { return document.querySelector(selector) === null; } catch (ignored) { return false; }
  }

  // A page's own rules for what a push may change (static/recado/inbox.js: a bubble's ticks never go back, a late
  // message goes where the thread's order puts it). Each rule gets the push's parsed content before it is swapped,
  // may change or remove its top-level elements, and returns true when it did.
  var pushRules = [];
  window.recadoLive = { addPushRule: function (rule) { pushRules.push(rule); } };

  htmx.defineExtension("recado-live", {
    transformResponse: function (text, xhr) {
      // Socket messages only (they come without an xhr): an answer to the page's own request keeps htmx's checks.
      if (xhr || typeof text !== "string" || text.indexOf("hx-swap-oob") === -1) return text;
      var holder = document.createElement("template");
      holder.innerHTML = text;
      var changed = false;
      pushRules.forEach(function (rule) { if (rule(holder.content)) changed = true; });
      // A frame may carry several pushes (tenants/consumers.py: those that waited for this socket go together):
      // one may target what an earlier one in the same frame puts in the page (a new bubble, then its tick).
      var kept = [];
      Array.prototype.slice.call(holder.content.children).forEach(function (element) {
        if (targetMissing(element) && !keptProvides(kept, element)) { element.remove(); changed = true; }
        else kept.push(element);
      });
      return changed ? holder.innerHTML : text;
    }
  });

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

  // The page re-fetches its live regions once the server has confirmed every subscription: a push made
  // between the page's own read and the subscription reached no socket, and a re-fetch made before the
  // confirmations could miss it too. (A reply that never comes: after SUBSCRIBE_WAIT_MS anyway.)
  var SUBSCRIBE_WAIT_MS = 3000, awaiting = 0, fallback = null;

  function confirmed() {
    if (awaiting <= 0) return;
    awaiting -= 1;
    if (awaiting === 0) {
      clearTimeout(fallback);
      resync();
    }
  }

  // A region that starts empty (the navigation's instances badge) is filled by that first re-fetch alone; should
  // the socket not open at all (a proxy that refuses WebSockets), the re-fetch happens anyway after a while.
  var socketOpened = false;
  setTimeout(function () { if (!socketOpened) resync(); }, SUBSCRIBE_WAIT_MS);

  document.body.addEventListener("htmx:wsOpen", function (event) {
    socketOpened = true;
    if (!company) return;
    var socket = event.detail.socketWrapper;
    var wanted = subscriptions();
    awaiting = wanted.length;
    clearTimeout(fallback);
    if (!awaiting) return;
    fallback = setTimeout(function () { awaiting = 1; confirmed(); }, SUBSCRIBE_WAIT_MS);
    wanted.forEach(function (message) { socket.send(JSON.stringify(message)); });
  });

  document.body.addEventListener("htmx:wsBeforeMessage", function (event) {
    var text = event.detail && event.detail.message;
    if (awaiting <= 0 || typeof text !== "string" || text.charAt(0) !== "{") return;
    try {
      var reply = JSON.parse(text);
      if (reply.subscribed || reply.error) confirmed();
    } catch (ignored) { /* a fragment, not a reply */ }
  });

  // One click that cannot be undone (revoking an API key, unlinking the phone) asks first: such forms carry
  // data-confirm with the question. Plain forms only: htmx requests have hx-confirm.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  // Logging out forgets the drafts this tab kept (static/recado/inbox.js): the next person at this browser
  // must not find them.
  document.addEventListener("submit", function (event) {
    if (!event.target.hasAttribute || !event.target.hasAttribute("data-logout")) return;
    try {
      for (var i = window.sessionStorage.length - 1; i >= 0; i--) {
        var key = window.sessionStorage.key(i);
        if (key && key.indexOf("recado:draft:") === 0) window.sessionStorage.removeItem(key);
      }
    } catch (error) { /* storage off */ }
  });

  // A secret shown once (an API key, a webhook's signing secret, templates/_secret_copy.html): "Copy" puts it on the
  // clipboard and says so in the live region under it. Where the clipboard API is missing (a page over plain HTTP,
  // an old browser) or refused, the text is selected for Ctrl+C instead, and the region says that.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-target]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    if (!field) return;
    var status = document.getElementById(field.id + "-copy-status");
    function say(text) {
      if (!status) return;
      status.textContent = "";  // emptied first, so a second click is announced again
      window.requestAnimationFrame(function () { status.textContent = text; });
    }
    function selectIt() {
      field.focus();
      field.select();
      say(button.getAttribute("data-selected-text"));
    }
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      selectIt();
      return;
    }
    navigator.clipboard.writeText(field.value).then(function () {
      say(button.getAttribute("data-copied-text"));
    }, selectIt);
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") resync();
  });
  setInterval(resync, 60000);
})();
