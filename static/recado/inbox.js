// Inbox glue (no inline scripts: the CSP forbids them). Keeps the thread scrolled to the newest message,
// de-duplicates bubbles that arrive both by push and by a re-fetch, refreshes the conversation list when
// the server signals activity, and makes the composer keyboard friendly (Enter sends, Shift+Enter newline,
// Escape drops a reply, an emoji picker that writes at the caret, quick replies offered on "/", a draft kept
// per conversation until it is sent) and the page too ("/" searches,
// Alt+Down / Alt+Up open the next / previous conversation, Alt+Shift+C goes to the message box, "?" lists the
// shortcuts; "/" and "?" only while the profile keeps single-key shortcuts on). The thread's messages are one Tab stop (a roving tabindex): the arrows, Home and End move between
// messages, Enter goes into the focused message's actions (Reply, reactions, Delete, its links and players) and
// Escape comes back out of them.
(function () {
  "use strict";
  var refreshTimer = null;

  function thread() { return document.getElementById("thread-messages"); }

  function scrollToBottom() {
    var box = thread();
    if (box) box.scrollTop = box.scrollHeight;
  }

  function nearBottom() {
    var box = thread();
    return !box || box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  }

  function dedupe() {
    var seen = {};
    var bubbles = document.querySelectorAll("#thread-messages-list [data-message]");
    for (var i = bubbles.length - 1; i >= 0; i--) {
      var id = bubbles[i].id;
      if (seen[id]) bubbles[i].remove(); else seen[id] = true;
    }
  }

  // The open conversation's row is marked with aria-current, not a class: htmx "settles" the class attribute
  // of a re-fetched row back to the server's 20 ms after the swap, which wiped a class set here.
  function markCurrent() {
    var current = document.querySelector("[data-current]");
    var id = current && current.dataset.current;
    document.querySelectorAll(".conversation-row").forEach(function (row) {
      if (id && row.dataset.conversation === id) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
  }

  // The list is re-fetched 300 ms after the server's last signal, but never later than 2 s after the first
  // one of a burst: on a busy inbox (signals more often than every 300 ms) a plain debounce would never fire,
  // and new conversations, whose rows only a re-fetch adds, would not appear.
  var REFRESH_QUIET_MS = 300, REFRESH_MAX_WAIT_MS = 2000, refreshDue = 0;

  function refreshNow() {
    refreshTimer = null;
    htmx.trigger(document.body, "recado:inbox-changed");
  }

  function refreshList() {
    var now = Date.now();
    if (refreshTimer === null) refreshDue = now + REFRESH_MAX_WAIT_MS;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshNow, Math.max(0, Math.min(REFRESH_QUIET_MS, refreshDue - now)));
  }

  // Drafts: what is typed in a conversation's composer is kept (for this tab) until it is sent, so opening
  // another conversation and coming back finds it again.
  function draftKey() {
    var current = document.querySelector("[data-current]");
    return current && current.dataset.current ? "recado:draft:" + current.dataset.current : null;
  }

  function restoreDraft() {
    var box = document.querySelector("[data-composer-text]"), key = draftKey();
    if (!box || !key || box.value) return;
    try { box.value = window.sessionStorage.getItem(key) || ""; } catch (error) { /* storage off */ }
  }

  function keepDraft(box) {
    var key = draftKey();
    if (!key) return;
    try {
      if (box.value) window.sessionStorage.setItem(key, box.value);
      else window.sessionStorage.removeItem(key);
    } catch (error) { /* storage off or full: the draft is simply not kept */ }
  }

  document.body.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-composer-text]")) keepDraft(event.target);
  });
  // A send the server took: its draft goes (beforeSwap, while the composer is still in the page; the swap
  // replaces it, and events on the replaced element reach no listener here).
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target, xhr = event.detail.xhr;
    if (target && target.id === "composer" && xhr && xhr.status >= 200 && xhr.status < 300) {
      var key = draftKey();
      try { if (key) window.sessionStorage.removeItem(key); } catch (error) { /* storage off */ }
    }
  });

  document.addEventListener("DOMContentLoaded", function () { restoreDraft(); scrollToBottom(); markCurrent(); });

  document.body.addEventListener("htmx:wsBeforeMessage", function () {
    document.body.dataset.stick = nearBottom() ? "1" : "";
  });
  document.body.addEventListener("htmx:wsAfterMessage", function (event) {
    var text = String((event.detail && event.detail.message) || "");
    dedupe();
    markCurrent();
    if (text.indexOf('id="inbox-signal"') !== -1) refreshList();
    if (threadFetching) {
      (text.match(/id="message-[0-9a-f]{32}"/g) || []).forEach(function (found) {
        pushedDuringFetch[found.slice(4, -1)] = true;
      });
    }
    if (document.body.dataset.stick === "1") scrollToBottom();
    // A customer's message landed in the thread being read: it is read, so the unread badge goes.
    if (text.indexOf("data-new-message") !== -1 && text.indexOf('data-direction="in"') !== -1) markRead();
  });

  function markRead() {
    var box = thread();
    if (!box) return;
    if (document.visibilityState === "visible") htmx.ajax("POST", box.dataset.readUrl, { swap: "none" });
    else unseen = true;
  }

  // One that arrived while the tab was hidden is seen when the agent comes back: then it is read (its badge,
  // or the open row's, goes for the whole team).
  var unseen = false;
  document.addEventListener("visibilitychange", function () {
    var box = thread();
    if (!box || document.visibilityState !== "visible") return;
    if (unseen || document.querySelector(".conversation-row[aria-current=true] [data-testid=unread-badge]")) {
      htmx.ajax("POST", box.dataset.readUrl, { swap: "none" });
    }
    unseen = false;
  });

  // The list's re-fetch brings its first page back alone, at the top: while someone has scrolled down the list
  // (further pages loaded) it waits, or on a busy inbox they would be thrown back up every two seconds. The rows
  // in view still change live (redrawn by id); back near the top, the list re-fetches itself.
  var listStale = false;

  function listScrolled() {
    var list = document.getElementById("conversation-list");
    return Boolean(list) && list.scrollTop > 80;
  }

  // A message pushed while the thread's re-fetch is on its way can be missing from its answer (read before the
  // message was stored): the swap wiped it off the screen until the next re-fetch. It is put back after the swap,
  // in its place. (Pushed bubbles by id; the bubbles shown when the answer arrives by id, `shownBeforeSwap`.)
  var threadFetching = false, pushedDuringFetch = {}, shownBeforeSwap = {};

  // A bubble's copies are ordered by (retries, status rank), so its ticks only move forward on screen (queued <
  // sending < failed < sent < delivered < read < played, "Retry" the one way back, and counted) whatever order a
  // push, the thread's re-fetch and an answer arrive in: an older copy never replaces a newer one.
  function olderCopy(bubble, than) {
    var retries = Number(bubble.dataset.retries || 0), thanRetries = Number(than.dataset.retries || 0);
    return retries < thanRetries ||
      (retries === thanRetries && Number(bubble.dataset.rank || 0) < Number(than.dataset.rank || 0));
  }

  // A message's place is its time (data-created, in µs), as the thread's query orders them (created_at, then id: a
  // new one of the same moment goes after those shown). The bubble before which it goes; "" at the end; null for
  // nowhere: it is older than every bubble shown while older pages are still to load, so it comes with them, as a
  // re-fetch would show it (a late message with an older time was appended at the bottom, and moved on a re-fetch).
  function placeOf(list, bubble) {
    var created = Number(bubble.dataset.created), shown = list.querySelectorAll("[data-message]");
    if (!shown.length || Number(shown[shown.length - 1].dataset.created) <= created) return "";
    for (var i = 0; i < shown.length; i++) {
      if (Number(shown[i].dataset.created) > created) {
        return i === 0 && list.querySelector("[data-testid=older-messages]") ? null : shown[i];
      }
    }
    return "";
  }

  function putInPlace(list, bubble) {
    var place = placeOf(list, bubble);
    if (place === "") list.appendChild(bubble);
    else if (place) list.insertBefore(bubble, place);
  }

  // What a push does to the thread, decided before it is swapped in (static/recado/recado.js runs this rule): a
  // bubble older than the copy shown is dropped; a new one already shown (re-fetched first) replaces it in place
  // when newer; a new one not shown goes to its place.
  function threadPushRule(content) {
    var list = document.getElementById("thread-messages-list"), changed = false;
    if (!list) return false;
    Array.prototype.slice.call(content.children).forEach(function (element) {
      var isNew = element.hasAttribute("data-new-message");
      var bubble = isNew ? element.querySelector("[data-message]") : element;
      if (!bubble || !bubble.hasAttribute("data-message")) return;
      var shown = document.getElementById(bubble.id);
      if (shown && (olderCopy(bubble, shown) || (isNew && !olderCopy(shown, bubble)))) {
        element.remove();
        changed = true;
      } else if (shown && isNew) {
        bubble.setAttribute("hx-swap-oob", "true");
        element.replaceWith(bubble);
        changed = true;
      } else if (!shown && isNew) {
        var place = placeOf(list, bubble);
        if (place === null) element.remove();
        else if (place) element.setAttribute("hx-swap-oob", "beforebegin:#" + place.id);
        changed = changed || place !== "";
      }
    });
    return changed;
  }
  if (window.recadoLive) window.recadoLive.addPushRule(threadPushRule);

  // The periodic re-fetch of the thread would throw away older pages someone is reading: skip it then
  // (it runs again once they are back at the newest messages).
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "thread-messages" && !nearBottom()) event.preventDefault();
    else if (elt && elt.id === "thread-messages") { threadFetching = true; pushedDuringFetch = {}; }
    if (elt && elt.id === "conversation-list" && listScrolled()) {
      event.preventDefault();
      listStale = true;
    }
  });

  document.addEventListener("scroll", function (event) {
    if (listStale && event.target.id === "conversation-list" && !listScrolled()) {
      listStale = false;
      htmx.trigger(event.target, "recado:resync");
    }
  }, true);  // scroll events do not bubble

  // 422 answers carry the form (or bubble) with its error message: show them instead of dropping them.
  // A composer that grows (an error above it) shrinks the thread: it stays at the newest message if it was there.
  var composerStick = false;
  // What is typed while a send is on its way is not lost with the old box: the answer's fresh composer takes what
  // was typed after the sent text (a refused send's composer, its error above: all that is in the box now).
  var composerSent = null, composerTyped = "";
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var box = event.detail.elt && event.detail.elt.id === "composer" &&
      event.detail.elt.querySelector("[data-composer-text]");
    if (box) { composerSent = box.value; closeQuickMenu(box.form); }
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "composer") {
      composerStick = nearBottom();
      var box = event.detail.target.querySelector("[data-composer-text]");
      var now = box ? box.value : "", accepted = event.detail.xhr && event.detail.xhr.status < 300;
      composerTyped = now;
      if (accepted && composerSent !== null && now.indexOf(composerSent) === 0) {
        composerTyped = now.slice(composerSent.length).replace(/^\s+/, "");
      }
      composerSent = null;
    }
    if (event.detail.xhr && event.detail.xhr.status === 422 && event.detail.serverResponse) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // An older page goes above what is being read, which stays in place: left at the very top, the new page's own
  // "older" marker was in view at once, and one scroll up loaded every page down to the first message.
  var olderFromBottom = null;
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target, box = thread();
    if (box && target && target.matches && target.matches("[data-testid=older-messages]")) {
      olderFromBottom = box.scrollHeight - box.scrollTop;
    }
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "thread-messages") { threadFetching = false; pushedDuringFetch = {}; }
  });

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "thread-messages") {
      shownBeforeSwap = {};
      target.querySelectorAll("#thread-messages-list [data-message]").forEach(function (bubble) {
        shownBeforeSwap[bubble.id] = bubble;
      });
    } else if (target && target.hasAttribute && target.hasAttribute("data-message") &&
               typeof event.detail.serverResponse === "string") {
      // An answer about one bubble (Retry, Delete) that comes after a newer push of it: the push stays.
      var holder = document.createElement("template");
      holder.innerHTML = event.detail.serverResponse;
      var answer = holder.content.querySelector("[data-message]");
      if (answer && answer.id === target.id && olderCopy(answer, target)) event.detail.shouldSwap = false;
    }
  });

  document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "thread-messages") {
      var list = document.getElementById("thread-messages-list");
      if (list) {
        // The answer was read before what was pushed meanwhile: a copy older than the one shown gives way to it,
        // and a message missing from it is put back.
        // (htmx cleaned the swapped-out bubbles up: processed again, their Retry, Delete and reactions work.)
        list.querySelectorAll("[data-message]").forEach(function (fresh) {
          var was = shownBeforeSwap[fresh.id];
          if (was && olderCopy(fresh, was)) { fresh.replaceWith(was); htmx.process(was); }
        });
        Object.keys(pushedDuringFetch).forEach(function (id) {
          var was = shownBeforeSwap[id];
          if (was && !document.getElementById(id)) { putInPlace(list, was); htmx.process(was); }
        });
        // A customer's message the re-fetch brought (stored while the socket was away, or before it subscribed:
        // pushed to no one) is in the thread being read, as a pushed one is: read.
        var arrived = Array.prototype.some.call(list.querySelectorAll("[data-message][data-direction=in]"),
                                                function (bubble) { return !shownBeforeSwap[bubble.id]; });
        if (arrived) markRead();
      }
      pushedDuringFetch = {};
      shownBeforeSwap = {};
      scrollToBottom();
    }
    if (olderFromBottom !== null && thread()) {
      thread().scrollTop = thread().scrollHeight - olderFromBottom;
      olderFromBottom = null;
    }
    if (target && target.id === "composer") {
      quickMatches = [];  // the menu went with the old composer (sent with the mouse while it was open)
      if (composerStick) scrollToBottom();
      var box = document.querySelector("[data-composer-text]");
      if (box && composerTyped && box.value !== composerTyped) {
        box.value = composerTyped;
        box.dispatchEvent(new Event("input", { bubbles: true }));  // kept as the draft too
      }
      composerTyped = "";
      if (box) box.focus();
    }
    dedupe();
    markCurrent();
  });

  // The conversation's number changed state (connected, disconnected, …): only its state is pushed (the notice is
  // drawn per person: an admin gets the link to reconnect it), so the notice re-fetches itself when it differs.
  function followInstanceState() {
    var region = document.getElementById("thread-instance-notice");
    var signal = region && region.querySelector("[data-instance-state]");
    if (signal && signal.dataset.state !== region.dataset.state) {
      region.dataset.state = signal.dataset.state;
      htmx.trigger(region, "recado:resync");
    }
  }
  document.body.addEventListener("htmx:wsAfterMessage", followInstanceState);

  // Quick replies: "/" and the start of a shortcut, as the first thing in the box, lists the matching ones;
  // arrows choose, Enter or Tab (or a click) inserts the text with its {{…}} filled in, Escape closes.
  // The company's replies are a hidden list in the page, replaced whenever one is added, edited or deleted (pushed
  // to every open thread, and re-fetched with the other live regions): read again each time it was replaced.
  var quickReplies = [], quickRepliesFrom = null, quickMatches = [], quickActive = 0;

  function replies() {
    var data = document.getElementById("quick-replies");
    if (data !== quickRepliesFrom) {
      quickRepliesFrom = data;
      quickReplies = data ? Array.prototype.map.call(data.querySelectorAll("[data-shortcut]"), function (item) {
        return { shortcut: item.dataset.shortcut, text: item.textContent };
      }) : [];
    }
    return quickReplies;
  }

  // A "/…" being typed while the list changes is offered the replies as they are now (a deleted one is not inserted,
  // a new one appears), the one chosen with the arrows kept. A list re-fetched unchanged (every resync) changes
  // nothing: the choice stays where the arrows put it.
  function quickRepliesChanged() {
    if (document.getElementById("quick-replies") === quickRepliesFrom) return;
    var before = JSON.stringify(quickReplies);
    if (JSON.stringify(replies()) === before) return;
    var box = document.querySelector("[data-composer-text]");
    if (!box || !/^\/\S*$/.test(box.value)) return;
    var chosen = quickMatches[quickActive] && quickMatches[quickActive].shortcut;
    updateQuickMenu(box);
    var again = quickMatches.findIndex(function (reply) { return reply.shortcut === chosen; });
    if (again > 0) { quickActive = again; showQuickMenu(box.form); }
  }
  document.body.addEventListener("htmx:wsAfterMessage", quickRepliesChanged);
  document.body.addEventListener("htmx:afterSwap", quickRepliesChanged);

  function quickMenu(form) { return form.querySelector("[data-quick-reply-menu]"); }

  // The box keeps focus while the arrows move through the list: it points at the reply being chosen
  // (aria-activedescendant), which a screen reader then reads out.
  function pointAt(form, id) {
    var box = form.querySelector("[data-composer-text]");
    if (!box) return;
    if (id) box.setAttribute("aria-activedescendant", id);
    else box.removeAttribute("aria-activedescendant");
  }

  function closeQuickMenu(form) {
    var menu = quickMenu(form);
    if (menu) { menu.hidden = true; menu.textContent = ""; }
    quickMatches = [];
    pointAt(form, null);
  }

  function showQuickMenu(form) {
    var menu = quickMenu(form);
    if (!menu) return;
    menu.textContent = "";
    quickMatches.forEach(function (reply, index) {
      var item = document.createElement("div");
      item.className = "list-group-item list-group-item-action small";
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", index === quickActive ? "true" : "false");
      item.id = "quick-reply-option-" + index;
      item.dataset.quickReply = String(index);
      var name = document.createElement("strong");
      name.textContent = "/" + reply.shortcut;
      var text = document.createElement("span");
      text.className = "quick-reply-text text-body-secondary";
      text.textContent = reply.text;
      item.appendChild(name);
      item.appendChild(text);
      menu.appendChild(item);
    });
    menu.hidden = quickMatches.length === 0;
    pointAt(form, quickMatches.length ? "quick-reply-option-" + quickActive : null);
    var active = menu.querySelector("[aria-selected=true]");
    if (active && active.scrollIntoView) active.scrollIntoView({ block: "nearest" });
  }

  function fold(text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function updateQuickMenu(box) {
    var typed = /^\/(\S*)$/.exec(box.value);
    if (!typed || !replies().length) { closeQuickMenu(box.form); return; }
    var term = fold(typed[1]);
    var starts = [], contains = [];
    replies().forEach(function (reply) {
      var shortcut = fold(reply.shortcut);
      if (shortcut.indexOf(term) === 0) starts.push(reply);
      else if (term && (shortcut.indexOf(term) !== -1 || fold(reply.text).indexOf(term) !== -1)) contains.push(reply);
    });
    quickMatches = starts.concat(contains).slice(0, 8);
    quickActive = 0;
    showQuickMenu(box.form);
  }

  function insertQuickReply(form, reply) {
    var box = form.querySelector("[data-composer-text]");
    var contact = form.dataset.contactName || "", agent = form.dataset.agentName || "";
    var values = { "contact.name": contact, "contact.first_name": contact.split(/\s+/)[0] || "", "agent.name": agent };
    var text = reply.text.replace(/\{\{\s*(contact\.name|contact\.first_name|agent\.name)\s*\}\}/g, function (all, name) {
      return values[name];
    });
    if (box.maxLength > 0) text = text.slice(0, box.maxLength);
    box.value = text;
    box.setSelectionRange(text.length, text.length);
    box.dispatchEvent(new Event("input", { bubbles: true }));
    closeQuickMenu(form);
    box.focus();
  }

  document.body.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-composer-text]")) updateQuickMenu(event.target);
  });

  // Enter sends, Shift+Enter adds a line; Escape closes the emoji picker, else drops the reply being written.
  document.body.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-composer-text]")) return;
    if (quickMatches.length && !event.isComposing) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        var step = event.key === "ArrowDown" ? 1 : quickMatches.length - 1;
        quickActive = (quickActive + step) % quickMatches.length;
        showQuickMenu(box.form);
        return;
      }
      if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
        event.preventDefault();
        insertQuickReply(box.form, quickMatches[quickActive]);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        closeQuickMenu(box.form);
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (box.value.trim() || box.form.querySelector("input[type=file]").files.length) box.form.requestSubmit();
    } else if (event.key === "Escape") {
      var picker = box.form.querySelector("[data-emoji-picker]");
      if (picker && picker.open) picker.open = false;
      else cancelReply(box.form);
    }
  });

  function typing(element) {
    return element && (element.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName));
  }

  // "/" and "?" alone are shortcuts of one character: speech input or a stray key sets them off, so the person can
  // turn them off in the profile (WCAG 2.1.4); the page says which (templates/messaging/inbox.html).
  function singleKeyShortcuts() {
    return !!document.querySelector("[data-single-key-shortcuts=on]");
  }

  // Keyboard shortcuts of the page: "/" searches; Alt+Down and Alt+Up open the next and the previous
  // conversation of the list (from the open one, else from the top).
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    if (event.key === "/" && !event.altKey && !event.ctrlKey && !event.metaKey && !typing(event.target)
        && singleKeyShortcuts()) {
      var search = document.getElementById("inbox-q");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
      return;
    }
    if (event.altKey && !event.ctrlKey && !event.metaKey && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      // Not away from something being typed (it would be lost with the page): only from an empty field.
      if (typing(event.target) && event.target.value) return;
      var rows = Array.prototype.slice.call(document.querySelectorAll(".conversation-row"));
      if (!rows.length) return;
      var at = rows.findIndex(function (row) { return row.getAttribute("aria-current") === "true"; });
      var next = at === -1 ? 0 : at + (event.key === "ArrowDown" ? 1 : -1);
      if (next < 0 || next >= rows.length || next === at) return;
      event.preventDefault();
      rows[next].click();
    }
  });

  function cancelReply(form) {
    form.querySelector("[data-reply-input]").value = "";
    form.querySelector("[data-reply-preview]").classList.add("d-none");
  }

  // The emoji picker writes where the caret is, and leaves the caret after the emoji.
  function insertEmoji(form, emoji) {
    var box = form.querySelector("[data-composer-text]");
    var start = box.selectionStart == null ? box.value.length : box.selectionStart;
    var end = box.selectionEnd == null ? start : box.selectionEnd;
    if (box.maxLength > 0 && box.value.length - (end - start) + emoji.length > box.maxLength) return;
    box.setRangeText(emoji, start, end, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));
    form.querySelector("[data-emoji-picker]").open = false;
    box.focus();
  }

  // Reply-to: remember which message the next send quotes.
  document.body.addEventListener("click", function (event) {
    var reply = event.target.closest && event.target.closest("[data-reply]");
    var form = document.getElementById("composer");
    if (reply && form) {
      form.querySelector("[data-reply-input]").value = reply.dataset.reply;
      form.querySelector("[data-reply-label]").textContent = reply.dataset.replyText || "";
      form.querySelector("[data-reply-preview]").classList.remove("d-none");
      form.querySelector("[data-composer-text]").focus();
      return;
    }
    var cancel = event.target.closest && event.target.closest("[data-reply-cancel]");
    if (cancel && form) cancelReply(form);
    var emoji = event.target.closest && event.target.closest("[data-emoji]");
    if (emoji && form) insertEmoji(form, emoji.dataset.emoji);
    var quick = event.target.closest && event.target.closest("[data-quick-reply]");
    if (quick && form && quickMatches[Number(quick.dataset.quickReply)]) {
      insertQuickReply(form, quickMatches[Number(quick.dataset.quickReply)]);
    }
  });

  // Focus survives the redraws. A control used from the keyboard (Assign to me, Close, a priority chosen with the
  // arrows, a tag, a reaction) is replaced by the answer and again by the push every open page gets; htmx gives
  // focus back only to an element with an id, and only after its own answers, so it fell to the body. It goes
  // back to the same control, else one of the same name in the same region ("Reopen" for "Close"), else the
  // region's first control.
  var focusWas = null;

  function rememberFocus() {
    var element = document.activeElement;
    var region = element && element !== document.body && element.closest("[id]");
    focusWas = region ? { element: element, region: region.id, name: element.getAttribute("name"),
                          value: element.getAttribute("value") } : null;
  }

  function restoreFocus() {
    var was = focusWas;
    if (!was || document.contains(was.element)) return;
    if (document.activeElement && document.activeElement !== document.body) return;
    var region = document.getElementById(was.region);
    if (!region) return;
    if (region === document.getElementById(was.element.id)) {  // the focused element itself, redrawn (a message)
      region.focus({ preventScroll: true });
      if (document.activeElement === region) return;
    }
    var named = was.name ? "[name='" + CSS.escape(was.name) + "']" : null;
    var choices = [named && was.value !== null ? named + "[value='" + CSS.escape(was.value) + "']" : null, named,
                   "button, select, input:not([type=hidden]), textarea, a[href]"];
    for (var i = 0; i < choices.length; i++) {
      var target = choices[i] && (region.matches(choices[i]) ? region : region.querySelector(choices[i]));
      if (target) { target.focus({ preventScroll: true }); return; }
    }
    // A region left with no control (a message deleted from its own Delete button) takes the focus itself.
    if (region.hasAttribute("tabindex")) region.focus({ preventScroll: true });
  }

  document.body.addEventListener("htmx:beforeSwap", rememberFocus);
  document.body.addEventListener("htmx:wsBeforeMessage", rememberFocus);
  document.body.addEventListener("htmx:afterSwap", restoreFocus);  // at once: a push may come before the settle
  document.body.addEventListener("htmx:afterSettle", restoreFocus);
  document.body.addEventListener("htmx:wsAfterMessage", restoreFocus);

  // A conversation opened from the list keeps the list as it is (tab, "mine", filters, search: the page's own
  // query), so the list beside it still shows it marked and Alt+Down goes on in that list. The rows' own links
  // cannot carry it: a pushed row is the same for everyone.
  ["click", "auxclick"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var row = event.target.closest && event.target.closest(".conversation-row");
      if (row && row.pathname) row.search = window.location.search;
    }, true);
  });

  // Escape inside the open picker closes it and goes back to the text.
  document.body.addEventListener("keydown", function (event) {
    var picker = event.target.closest && event.target.closest("[data-emoji-picker]");
    if (picker && picker.open && event.key === "Escape") {
      event.preventDefault();
      picker.open = false;
      var text = picker.closest("form").querySelector("[data-composer-text]");
      if (text) text.focus();
    }
  });
  // The thread is one Tab stop: one message at a time is in the Tab order (the one last moved to, else the
  // newest), the others and every control inside the messages (Reply, four reactions, Delete, links, players) are
  // not, or Tab crossed about six buttons per message between the header and the composer. The arrows, Home and
  // End move between messages; Enter goes into the focused message's actions, which Tab then walks through;
  // Escape comes back to the message. Bubbles come from the server's pages and pushes (the same HTML for
  // everyone), so the tab order is set here, each time the thread changes.
  var MESSAGE = "#thread-messages-list [data-message]";
  var CONTROLS = "a[href], button, input:not([type=hidden]), select, textarea, summary, audio[controls], video[controls]";
  var roving = null;  // the id of the message moved to last (null: the newest)

  function messageOf(element) { return element && element.closest ? element.closest(MESSAGE) : null; }

  function messages() { return Array.prototype.slice.call(document.querySelectorAll(MESSAGE)); }

  function setTabIndex(element, value) {
    if (element.getAttribute("tabindex") !== String(value)) element.setAttribute("tabindex", String(value));
  }

  function rove() {
    var all = messages();
    if (!all.length) return;
    var focused = document.activeElement, inside = messageOf(focused);
    if (inside) roving = inside.id;
    var current = roving && document.getElementById(roving);
    if (!current || all.indexOf(current) === -1) current = all[all.length - 1];
    all.forEach(function (message) {
      setTabIndex(message, message === current ? 0 : -1);
      // Only the message being worked in (focus on one of its controls) keeps its controls in the Tab order.
      var open = message === inside && focused !== message;
      message.querySelectorAll(CONTROLS).forEach(function (control) { setTabIndex(control, open ? 0 : -1); });
    });
  }

  new MutationObserver(function (changes) {
    var thread = document.getElementById("thread-messages");
    if (!thread) return;
    for (var i = 0; i < changes.length; i++) {
      if (thread.contains(changes[i].target) || changes[i].target.contains(thread)) { rove(); return; }
    }
  }).observe(document.body, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", rove);
  document.addEventListener("focusin", function (event) { if (messageOf(event.target)) rove(); });
  document.addEventListener("focusout", function (event) {
    // Leaving a message's actions (Tab past the last one, a click elsewhere) takes them out of the Tab order again.
    var from = messageOf(event.target);
    if (from && messageOf(event.relatedTarget) !== from) {
      from.querySelectorAll(CONTROLS).forEach(function (control) { setTabIndex(control, -1); });
    }
  });

  function focusMessage(message) {
    roving = message.id;
    setTabIndex(message, 0);
    message.focus();
    rove();
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
    var message = messageOf(event.target);
    if (!message) return;
    if (event.target !== message) {  // in the message's actions: Escape comes back to the message
      if (event.key === "Escape") { event.preventDefault(); focusMessage(message); }
      return;
    }
    var all = messages(), at = all.indexOf(message), to = null;
    if (event.key === "ArrowDown") to = all[at + 1];
    else if (event.key === "ArrowUp") to = all[at - 1];
    else if (event.key === "Home") to = all[0];
    else if (event.key === "End") to = all[all.length - 1];
    else if (event.key === "Enter") {
      var first = message.querySelector(CONTROLS);
      if (first) {
        event.preventDefault();
        message.querySelectorAll(CONTROLS).forEach(function (control) { setTabIndex(control, 0); });
        first.focus();
      }
      return;
    } else return;
    event.preventDefault();  // the arrows move between messages, never scroll the thread under the focus
    if (to) focusMessage(to);
  });

  // Alt+Shift+C goes to the message box from anywhere on the page; "?" opens the list of shortcuts (unless the
  // person turned single-key shortcuts off).
  function openShortcuts() {
    var dialog = document.getElementById("keyboard-shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    // By the key's place, not its character: on a Mac Alt+Shift+C types a "Ç".
    if (event.altKey && event.shiftKey && !event.ctrlKey && !event.metaKey && event.code === "KeyC") {
      var box = document.querySelector("[data-composer-text]");
      if (box) { event.preventDefault(); box.focus(); }
      return;
    }
    if (event.key === "?" && !event.altKey && !event.ctrlKey && !event.metaKey && !typing(event.target)
        && singleKeyShortcuts()) {
      event.preventDefault();
      openShortcuts();
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-shortcuts-open]")) openShortcuts();
    var close = event.target.closest && event.target.closest("[data-shortcuts-close]");
    if (close) close.closest("dialog").close();
  });
})();
