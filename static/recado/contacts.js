// Contact list: the "select all on this page" checkbox of the bulk tag form. Delegated on the body,
// so it keeps working after htmx replaces the results.
(function () {
  "use strict";
  document.body.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (!all) return;
    var form = all.closest("form");
    form.querySelectorAll("input[type=checkbox][name=contacts]").forEach(function (box) {
      box.checked = all.checked;
    });
  });
})();
