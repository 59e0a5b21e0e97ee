// Contact list: the "select all on this page" checkbox of the bulk tag form and, once every row of the page is
// ticked, the offer to act on every contact matching the filters (Gmail-style; the server applies it to the
// list's filters, sent along with the form). Delegated on the body, so it keeps working after htmx replaces the
// results (which also resets the offer).
(function () {
  "use strict";

  function matching(form, state) {
    var banner = form.querySelector("[data-select-matching]");
    if (!banner) return;
    banner.hidden = state === "none";
    banner.querySelector("[data-matching-input]").value = state === "all" ? "1" : "";
    banner.querySelector("[data-matching-off]").hidden = state === "all";
    banner.querySelector("[data-matching-on]").hidden = state !== "all";
  }

  document.body.addEventListener("change", function (event) {
    var form = event.target.closest("form");
    if (!form) return;
    var all = event.target.closest("[data-select-all]");
    if (all) {
      form.querySelectorAll("input[type=checkbox][name=contacts]").forEach(function (box) {
        box.checked = all.checked;
      });
      matching(form, all.checked ? "page" : "none");
    } else if (event.target.matches("input[type=checkbox][name=contacts]") && !event.target.checked) {
      var selectAll = form.querySelector("[data-select-all]");
      if (selectAll) selectAll.checked = false;
      matching(form, "none");  // not every row is ticked any more
    }
  });

  document.body.addEventListener("click", function (event) {
    var choose = event.target.closest("[data-matching-choose]");
    var clear = event.target.closest("[data-matching-clear]");
    if (!choose && !clear) return;
    var form = event.target.closest("form");
    if (choose) {
      matching(form, "all");
      return;
    }
    form.querySelectorAll("input[type=checkbox][name=contacts], [data-select-all]").forEach(function (box) {
      box.checked = false;
    });
    matching(form, "none");
  });
})();
