/* The infusion record on the bedside page: the start after a passed check, and the infusion
 * under way (as the server has it, on any tablet) with the form to record its end, stopped
 * early or not. Recording what already happened is never blocked; a stop that arose since
 * the start (a recall, a release that no longer holds) is shown above the form. Loaded
 * before bedside.js, which calls it as window.custodyInfusionRecord. */
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var urls = $("bedside").dataset;
  var running = null, started = null;

  function post(url, body) { return window.custodyApi.post(url, body, "try again"); }

  function say(id, message) { $(id).textContent = message || ""; }

  function el(tag, text) { var node = document.createElement(tag); node.textContent = text; return node; }

  function dinWords(din) { return din.slice(0, 5) + " " + din.slice(5, 7) + " " + din.slice(7); }

  // A datetime-local field showing the server's now on the site's wall clock (to the minute),
  // never the tablet's; left as shown, it means "now".
  function localNow(input) {
    input.value = window.custodySiteClock.fieldNow();
    input.dataset.shown = input.value;
  }

  function changed(input) { return input.value !== input.dataset.shown; }

  function facts(list, pairs) {
    list.textContent = "";
    pairs.forEach(function (pair) {
      var row = document.createElement("div");
      row.appendChild(el("dt", pair[0]));
      row.appendChild(el("dd", pair[1]));
      list.appendChild(row);
    });
  }

  function show(r) {
    running = r;
    $("running").hidden = false;
    var stops = $("running-stops");
    stops.textContent = "";
    (r.stops || []).forEach(function (words) { stops.appendChild(el("li", words)); });
    facts($("running-facts"), [
      ["Bag", dinWords(r.din) + " [" + r.check_character + "] · " + r.product_code],
      ["Lot", r.lot], ["Infusion", "Infusion " + r.infusion_number + " of " + r.recipient],
      ["Started", r.started_local + " by " + (r.started_by || r.first_verifier)],
      ["Verified by", r.first_verifier + " and " + r.second_verifier],
      ["Volume to infuse", r.volume_to_infuse_ml + " mL"]
    ]);
    var form = $("end-form");
    form.hidden = false;
    localNow(form.elements.ended_at);
    form.elements.volume_ml.value = r.volume_ml || r.volume_to_infuse_ml || "";
    $("recorded").hidden = true;
  }


  function submit(form, url, body, done) {
    var button = form.querySelector("button[type=submit]"), problem = form.querySelector(".problem");
    button.disabled = true;
    problem.textContent = "";
    post(url, body).then(done, function (error) { problem.textContent = error.message; }).then(function () { button.disabled = false; });
  }

  function fields(form, timeField) {
    var body = {}, volume = form.elements.volume_ml.value.trim(), time = form.elements[timeField];
    // Left as shown, the time is the server's "now": never before the verification or the
    // start it follows, as the minute the form showed could be. A changed time is the site's
    // wall time, whatever zone the tablet is set to.
    if (changed(time)) { body[timeField] = window.custodySiteClock.fieldToIso(time.value); }
    if (volume) { body.volume_ml = Number(volume); }
    body.reactions = form.elements.reactions.value.trim();
    return body;
  }

  function startInfusion(event) {
    event.preventDefault();
    var form = event.target, body = fields(form, "started_at");
    body.verification = started.result.uid;
    if (!body.reactions) { delete body.reactions; }
    submit(form, urls.infusionsUrl, body, function () {
      form.hidden = true;
      started.onStarted();
      // What runs now is read back from the server: the same view another tablet would show.
      return post(urls.wristbandUrl, { wristband: started.wristband }).then(function (found) {
        if (found.infusion_in_progress) { show(found.infusion_in_progress); }
      });
    });
  }

  function completeInfusion(event) {
    event.preventDefault();
    var form = event.target, body = fields(form, "ended_at");
    var url = urls.infusionsUrl + "/" + encodeURIComponent(running.bag) + "/completion";
    if (body.volume_ml === undefined) { form.querySelector(".problem").textContent = "Enter the volume infused (mL), as the pump shows it."; return; }
    if ($("interrupted").checked) {
      body.interruption_reason = $("interruption-reason").value.trim();
      if (!body.interruption_reason) { form.querySelector(".problem").textContent = "Say why the infusion was stopped early."; return; }
    }
    submit(form, url, body, function (infusion) {
      form.hidden = true;
      running = null;
      $("recorded").hidden = false;
      say("recorded", (infusion.interruption_reason ? "Infusion stopped and recorded: ended at " : "Infusion recorded: ended at ") +
        infusion.ended_local + ", " + infusion.volume_ml + " mL.");
    });
  }

  function prepareStart(result, wristband, onStarted) {
    started = { result: result, wristband: wristband, onStarted: onStarted };
    var form = $("start-form");
    form.hidden = false;
    localNow(form.elements.started_at);
    var volume = result.volume_to_infuse_ml;  // prefilled when the answer carries it
    if (volume) { form.elements.volume_ml.value = volume; }
    form.querySelector("button").focus();
  }

  function hide() {
    running = null; started = null;
    $("running").hidden = true;
    $("interruption").hidden = true;
    $("start-form").hidden = true;
  }

  $("start-form").addEventListener("submit", startInfusion);
  $("end-form").addEventListener("submit", completeInfusion);
  $("interrupted").addEventListener("change", function () { $("interruption").hidden = !$("interrupted").checked; });
  window.custodyInfusionRecord = {
    show: show, hide: hide, prepareStart: prepareStart,
    bag: function () { return running && running.bag; }
  };
})();
