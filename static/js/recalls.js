/* Recall pages: the signing and lifting forms post as JSON to the API, then the page shows the
 * order as the server recorded it; a refusal is shown in the API's own words by the form. */
(function () {
  "use strict";

  function fields(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name) { body[el.name] = el.type === "password" ? el.value : el.value.trim(); }
    });
    if (form.dataset.scope) { body.scope = form.dataset.scope; body.value = form.dataset.value; }
    return body;
  }

  function submit(form, event) {
    event.preventDefault();
    var error = form.querySelector(".form-error");
    var button = form.querySelector('button[type="submit"]');
    error.textContent = "";
    button.disabled = true;
    window.custodyApi.post(form.dataset.url, fields(form), "sign again").then(function (recall) {
      window.location.assign("/qa/recalls/" + encodeURIComponent(recall.code));
    }).catch(function (failure) {
      error.textContent = failure.message;
      form.elements.password.value = "";
      button.disabled = false;
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form.sign-recall"), function (form) {
    form.addEventListener("submit", function (event) { submit(form, event); });
  });
})();
