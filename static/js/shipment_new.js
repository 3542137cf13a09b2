/* The new-shipment form: its fields go as JSON to the API, and the new shipment's page opens;
 * a refusal is shown in the API's own words, and nothing was created. */
(function () {
  "use strict";

  var form = document.getElementById("new-shipment");
  if (!form) { return; }
  var error = form.querySelector(".form-error");

  function body() {
    var data = {};
    ["destination_site", "courier", "shipper_id", "logger_id"].forEach(function (name) {
      data[name] = form.elements[name].value.trim();
    });
    var limit = form.elements.storage_limit_c.value.trim();
    if (limit !== "") { data.storage_limit_c = Number(limit); }
    return data;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var data = body(), button = form.querySelector('button[type="submit"]');
    error.textContent = "";
    if (!data.destination_site) {
      error.textContent = "Name the clinical site the shipment goes to.";
      form.elements.destination_site.focus();
      return;
    }
    if (data.storage_limit_c !== undefined && !isFinite(data.storage_limit_c)) {
      error.textContent = "The storage limit is a temperature in °C, e.g. -150.";
      return;
    }
    button.disabled = true;
    window.custodyApi.post(form.dataset.url, data, "try again").then(function (shipment) {
      window.location.assign("/shipments/" + encodeURIComponent(shipment.code));
    }, function (failure) {
      error.textContent = failure.message;
      button.disabled = false;
    });
  });
  form.elements.destination_site.focus();
})();
