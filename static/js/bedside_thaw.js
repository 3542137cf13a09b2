/* The thaw panel of the bedside page: scan the bag, start the thaw, end it, and the post-thaw
 * countdown from the server's thaw record. Every rule (which bag may thaw, the window) and every
 * time shown is the server's. Loaded after bedside.js, whose countdown it shares. */
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var urls = $("bedside").dataset;
  var thawing = { bag: null };
  var thawWindow = window.custodyCountdown($("thaw-countdown"));

  function post(url, body) { return window.custodyApi.post(url, body, "try again"); }

  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).catch(function () {
      throw new Error("The server could not be reached: check the network, then try again.");
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) { return data; }
        var failure = new Error((data.error && data.error.message) || "The server answered " + response.status + ".");
        failure.status = response.status;
        throw failure;
      });
    });
  }

  function say(id, message) { $(id).textContent = message || ""; }

  function thawScan(raw) {
    raw = raw.trim();
    if (!raw) { return; }
    thawing.bag = null;
    say("thaw-error"); say("thaw-status"); say("thaw-bag");
    thawWindow.hide();
    thawButtons(false);
    describeThaw(raw).catch(function (error) { say("thaw-error", error.message); });
  }

  // The bag as it is now (state) and its thaw: after the scan, and again after each action.
  function describeThaw(raw) {
    return post(urls.lookupUrl, { data: raw }).then(function (found) {
      if (found.kind !== "bag") { throw new Error("That is not a bag's label: scan the bag to thaw."); }
      var bag = found.bag;
      thawing.bag = { raw: raw, code: bag.code };
      say("thaw-bag", "Bag " + bag.din + " " + bag.check_character + " " + bag.product_code + " · " + bag.status.toUpperCase());
      thawButtons(true);
      return get(urls.thawsUrl + encodeURIComponent(bag.code)).then(showThaw, function (error) {
        if (error.status !== 404) { throw error; }
        say("thaw-status", error.message);  // not in the thawer yet, in the server's words
      });
    });
  }

  // Times as the server wrote them (site time with its zone), never the tablet's clock or zone;
  // the countdown runs from the server's seconds left, a duration the tablet only counts down.
  function showThaw(t) {
    if (!t.ended_at) { thawWindow.hide(); return say("thaw-status", "Thawing since " + t.started_local + " (" + t.started_by + ")."); }
    say("thaw-status", "Thawed at " + t.ended_local + " (" + t.ended_by + "); use by " + t.use_by_local + ".");
    thawWindow.start(t.expired ? 0 : t.seconds_left || 0);
  }

  function thawButtons(on) {
    document.querySelectorAll("[data-thaw]").forEach(function (b) { b.disabled = !on; });
  }

  function thawAction(action) {
    var t = thawing.bag;
    if (!t) { return; }
    say("thaw-error");
    post(urls.scanUrl, { action: action, bag: t.raw }).then(function () { return describeThaw(t.raw); })
      .catch(function (error) { say("thaw-error", error.message); });
  }

  $("thaw-input").addEventListener("keydown", function (e) {
    if (e.key !== "Enter") { return; }
    e.preventDefault();
    thawScan($("thaw-input").value);
    $("thaw-input").value = "";
  });
  document.querySelectorAll("[data-thaw]").forEach(function (b) { b.addEventListener("click", function () { thawAction(b.dataset.thaw); }); });
})();
