/* Clinic forms: allocation and de-allocation post JSON to the API; the page reloads to show
 * what the server recorded, and a refusal (dose out of tolerance, CD3+ over the limit, a bag
 * already allocated) is shown in the API's own words next to the form. */
(function () {
  "use strict";

  function body(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) { return; }
      data[el.name] = el.value.trim();
    });
    if (form.dataset.subject) {
      data.recipient = form.dataset.subject;
      data.infusion_number = Number(data.infusion_number);
      // One scan per line: a keyboard-wedge scanner ends each read with Enter.
      data.bags = data.bags.split(/\r?\n/).map(function (s) { return s.trim(); }).filter(Boolean);
    }
    return data;
  }

  function submit(form, event) {
    event.preventDefault();
    var error = form.querySelector(".form-error");
    var button = form.querySelector('button[type="submit"]');
    error.textContent = "";
    button.disabled = true;
    window.custodyApi.post(form.dataset.url, body(form), "try again").then(function () {
      window.location.reload();
    }).catch(function (problem) {
      error.textContent = problem.message;
      button.disabled = false;
    });
  }

  document.querySelectorAll("form.clinic-form").forEach(function (form) {
    form.addEventListener("submit", function (event) { submit(form, event); });
  });
})();
