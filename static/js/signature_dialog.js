/* An electronic-signature dialog (21 CFR 11.200), for any page that signs one record: a button
 * with data-sign-dialog="<dialog id>" opens the dialog with its form emptied; the form posts its
 * fields as JSON to its data-url (CSRF included, through api.js); the page then reloads to show
 * the signed record with its manifestation. A refusal is shown in the API's own words, and the
 * password is cleared for the signer to enter again: a signature is never given by a stored one. */
(function () {
  "use strict";

  function body(form) {
    var fields = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.matches(":disabled")) { return; }
      fields[el.name] = el.type === "password" ? el.value : el.value.trim();
    });
    return fields;
  }

  function wire(dialog) {
    var form = dialog.querySelector("form");
    var error = form.querySelector(".form-error");
    var sign = form.querySelector('button[type="submit"]');
    var password = form.querySelector('input[type="password"]');

    document.querySelectorAll('[data-sign-dialog="' + dialog.id + '"]').forEach(function (opener) {
      opener.addEventListener("click", function () {
        form.reset();
        error.textContent = "";
        sign.disabled = false;
        dialog.showModal();
        form.querySelector("input").focus();
      });
    });
    dialog.querySelector("[data-close]").addEventListener("click", function () { dialog.close(); });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.textContent = "";
      sign.disabled = true;
      window.custodyApi.post(form.dataset.url, body(form), "sign again").then(function () {
        window.location.reload();
      }, function (failure) {
        error.textContent = failure.message;
        sign.disabled = false;
        password.value = "";
        password.focus();
      });
    });
  }

  document.querySelectorAll("dialog[data-signature]").forEach(wire);
})();
