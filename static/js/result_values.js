/* A result's value field follows the test chosen in its form: a qualitative test's own values
 * as a pick-list (its specification's, nothing else), a number field for a numeric test. Only
 * the field shown is enabled, so only it is required and only it is sent (qa_lot.js posts the
 * form's enabled fields). The API refuses any other value all the same. */
(function () {
  "use strict";

  function sync(form, select) {
    var option = select.selectedOptions[0];
    var picks = option && option.dataset.kind === "qualitative" &&
      form.querySelector('[data-value-for="' + CSS.escape(option.value) + '"]');
    form.querySelectorAll("[data-value-numeric], [data-value-for]").forEach(function (box) {
      var on = box.hasAttribute("data-value-numeric") ? !picks : box === picks;
      box.hidden = !on;
      box.disabled = !on;
    });
  }

  document.querySelectorAll("form.result-form").forEach(function (form) {
    var select = form.elements.test;
    if (!select || select.tagName !== "SELECT") { return; }
    select.addEventListener("change", function () { sync(form, select); });
    sync(form, select);
  });
})();
