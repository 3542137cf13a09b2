/* QA pages: every form posts its fields as JSON to the API, and the page reloads to show what
 * the server recorded; a refusal is shown in the API's own words, next to the form.
 * The signing dialog offers only the dispositions the server would accept from this signer
 * (the page lists what blocks the others) and shows only the fields the chosen one takes. */
(function () {
  "use strict";

  function post(url, body) { return window.custodyApi.post(url, body, "try again"); }

  /* The form's enabled fields as the API takes them: `name[]` checkboxes make a list. */
  function fields(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.matches(":disabled")) { return; }
      var name = el.name.replace(/\[\]$/, "");
      if (el.type === "checkbox" && name !== el.name) {
        body[name] = body[name] || [];
        if (el.checked) { body[name].push(el.value); }
      } else if (el.type === "checkbox") {
        body[name] = el.checked;
      } else if (el.type === "radio") {
        if (el.checked) { body[name] = el.value; }
      } else {
        body[name] = el.type === "password" ? el.value : el.value.trim();
      }
    });
    return body;
  }

  /* A result is a number or words, as the chosen test's specification judges it; a test
   * typed by hand (no specification yet) is a number when it reads as one. */
  function resultValue(form, body) {
    if (!("value" in body)) { return; }
    var test = form.elements.test;
    var option = test.selectedOptions && test.selectedOptions[0];
    var kind = option ? option.dataset.kind : "";
    var value = body.value, number = Number(value.replace(",", "."));
    var numeric = value !== "" && isFinite(number);
    delete body.value;
    if (kind === "numeric" && !numeric) {
      throw new Error("This test takes a number: enter the value (e.g. 91.5 or 2.4e9).");
    }
    if (kind === "numeric" || (!kind && numeric)) { body.value_numeric = number; } else { body.value_text = value; }
  }

  /* The signing dialog's choice is an offer (an exceptional release is a release with
   * its physician's fields): the API takes its action and whether it is exceptional. */
  function signedChoice(form, body) {
    if (!("offer" in body)) { return; }
    var radio = form.querySelector('input[name="offer"]:checked');
    delete body.offer;
    body.action = radio.dataset.action;
    body.exceptional = radio.dataset.exceptional === "yes";
  }

  function submit(form, event) {
    event.preventDefault();
    var error = form.querySelector(".form-error");
    var button = form.querySelector('button[type="submit"]');
    error.textContent = "";
    var body = fields(form);
    // Path parts (the test of a correction) come from the form and leave the body.
    var url = form.dataset.url.replace(/FIELD-(\w+)/g, function (_, key) {
      var part = body[key];
      delete body[key];
      return encodeURIComponent(part || "");
    });
    try { resultValue(form, body); } catch (problem) { error.textContent = problem.message; return; }
    signedChoice(form, body);
    button.disabled = true;
    post(url, body).then(function () {
      window.location.reload();
    }, function (failure) {
      error.textContent = failure.message;
      button.disabled = false;
      var password = form.querySelector('input[type="password"]');
      if (password) { password.value = ""; password.focus(); }
    });
  }

  document.querySelectorAll("form.api-form").forEach(function (form) {
    form.addEventListener("submit", function (event) { submit(form, event); });
  });

  /* ---- the signing dialog ---- */

  var dialog = document.getElementById("sign-dialog");
  if (!dialog) { return; }
  var form = dialog.querySelector("form");

  function chosen() { return form.querySelector('input[name="offer"]:checked'); }

  function show(id, on) {
    var node = document.getElementById(id);
    if (node) { node.hidden = !on; node.disabled = !on; }
  }

  function update() {
    var radio = chosen(), action = radio.dataset.action;
    var reasonRequired = radio.dataset.reasonRequired === "yes";
    document.getElementById("sign-meaning").textContent = radio.dataset.meaning;
    document.getElementById("sign-reason").required = reasonRequired;
    document.getElementById("sign-reason-hint").textContent = reasonRequired ? "(required)" : "(optional)";
    show("pending-box", action === "conditional_release");
    show("exceptional-box", radio.dataset.exceptional === "yes");
    show("statements-box", action === "release" || action === "conditional_release");
  }

  /* A disabled button (blocked, its reasons beside it) never opens the dialog; an enabled
   * one opens it on its own choice, which the dialog offers as a radio. */
  document.querySelectorAll(".sign-open:not(:disabled)").forEach(function (button) {
    button.addEventListener("click", function () {
      form.reset();
      form.querySelector('input[name="offer"][value="' + button.dataset.offer + '"]').checked = true;
      form.querySelector(".form-error").textContent = "";
      update();
      dialog.showModal();
      chosen().focus();
    });
  });
  form.querySelectorAll('input[name="offer"]').forEach(function (radio) { radio.addEventListener("change", update); });
  dialog.querySelector("[data-close]").addEventListener("click", function () { dialog.close(); });
})();
