/* Posting JSON to the tracker's API from a signed-in page: the session's CSRF token goes in
 * the header (a cookie alone would let another site act in the user's name), a refusal comes
 * back in the API's own words with its code and status, and a network failure says plainly
 * that nothing was saved. `retry` finishes that sentence ("scan again", "try again"). */
(function () {
  "use strict";

  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function post(url, body, retry) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).catch(function () {
      throw new Error("The server could not be reached. Nothing was saved: check the network, then " + (retry || "try again") + ".");
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) { return data; }
        var error = (data && data.error) || {};
        var failure = new Error(error.message || "The server answered " + response.status + ". Nothing was saved.");
        failure.code = error.code;
        failure.status = response.status;
        failure.details = error.details || {};
        throw failure;
      });
    });
  }

  window.custodyApi = { post: post };
})();
