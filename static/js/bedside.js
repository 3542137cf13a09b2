/* The bedside check: two scans, the server's checks shown one by one, a second nurse's own
 * credentials, then the infusion record. Every rule lives on the server; this page never
 * decides that a bag may be given, and offers no way past a stop. */
(function () {
  "use strict";

  var WORDS = {
    wristband: "Wristband read", bag_label: "Bag label read",
    recipient_identity: "Right patient", allocation: "Bag allocated to this patient",
    infusion_number: "Right infusion (first or second)", recipient_on_study: "Patient on study, due for infusion",
    lot_released: "Lot released by QA", not_recalled: "No recall",
    product_expiry: "Product not expired", thawed: "Bag thawed",
    thaw_window: "Within the post-thaw window", received_at_site: "Received at this site",
    dose_level: "Right dose level", never_infused: "Bag never infused before",
    eligibility_warnings: "Donor eligibility warnings acknowledged", second_verifier: "Second nurse verified"
  };
  var MARKS = { passed: "✓", failed: "✗", waiting: "…", pending: "" };
  var AWAITED = { eligibility_warnings: true, second_verifier: true };
  var STAGGER_MS = 150;
  var AMBER_S = 600;
  var EXPIRED = "Post-thaw window passed — do not infuse";

  var $ = function (id) { return document.getElementById(id); };
  var urls = $("bedside").dataset;
  var state, timers = [];

  /* ---- talking to the server ---- */

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

  /* ---- small pieces ---- */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function say(id, message) { $(id).textContent = message || ""; }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function clock(iso) { var d = new Date(iso); return two(d.getHours()) + ":" + two(d.getMinutes()); }

  // A datetime-local field showing now (to the minute); left as shown, it means "now".
  function localNow(input) {
    var d = new Date();
    input.value = d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + "T" + two(d.getHours()) + ":" + two(d.getMinutes());
    input.dataset.shown = input.value;
  }

  function changed(input) { return input.value !== input.dataset.shown; }

  function countdown(node, onExpire) {
    var deadline, tick = null;
    function draw() {
      var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      node.textContent = left ? "Use within " + two(Math.floor(left / 60)) + ":" + two(left % 60) : EXPIRED;
      node.dataset.level = !left ? "red" : left < AMBER_S ? "amber" : "ok";
      if (!left) { stop(); if (onExpire) { onExpire(); } }
    }
    function stop() { clearInterval(tick); tick = null; }
    return {
      start: function (seconds) { stop(); deadline = Date.now() + seconds * 1000; node.hidden = false; draw(); if (seconds > 0) { tick = setInterval(draw, 1000); } },
      stop: stop,
      hide: function () { stop(); node.hidden = true; node.textContent = ""; }
    };
  }

  var useWithin = countdown($("countdown"), function () { if (!state.infusing) { hardStop(EXPIRED, []); } });
  var thawWindow = countdown($("thaw-countdown"));

  /* ---- the two scans ---- */

  function take(raw, typed) {
    raw = raw.trim();
    if (!raw) { return; }
    if (state.infusing) { return say("verify-error", "An infusion is being recorded: finish it, or press Start again."); }
    // A wristband starts "&#" (patient number); anything else is the bag's label.
    var which = raw.indexOf("&#") === 0 ? "wristband" : "bag";
    state[which] = raw;
    say(which + "-read", which === "wristband" ? wristbandWords(raw) : typed ? "Typed: " + raw : "Bag label read.");
    $(which + "-step").classList.add("done");
    clearResult();
    if (!state.wristband) { $("wristband-input").focus(); } else if (!state.bag) { $("bag-input").focus(); } else { verify(); }
  }

  function wristbandWords(raw) {
    var m = /^&#..\d\d(\w+)=#..(\d{4})(\d\d)(\d\d)$/.exec(raw);
    return m ? "Record number " + m[1] + " · born " + m[2] + "-" + m[3] + "-" + m[4] : "Wristband read.";
  }

  function typedWristband() {
    var number = $("record-number").value.replace(/\s+/g, ""), born = $("birth-date").value;
    if (!number || !born) { return say("verify-error", "Type the hospital record number and the date of birth from the wristband."); }
    take("&#00" + two(number.length) + number + "=#00" + born.replace(/-/g, ""), true);
  }

  function typedBag() {
    var din = $("typed-din").value.replace(/\s+/g, ""), k = $("typed-k").value.trim(), product = $("typed-product").value.trim();
    if (!din || !k || !product) { return say("verify-error", "Type the DIN, the character in the box after it, and the product code."); }
    take(din + " " + k + " " + product, true);
  }

  /* ---- the verification ---- */

  function verify(second) {
    var seq = state.seq, body = { recipient: state.wristband, bag: state.bag, warnings_acknowledged: $("warnings-ack").checked };
    if (second) { body.second_verifier = second; }
    say("verify-error"); say("second-error");
    return post(urls.verifyUrl, body).then(function (result) {
      if (seq === state.seq) { show(result, second); }
    }, function (error) {
      if (seq === state.seq) { say(second ? "second-error" : "verify-error", error.message); }
    });
  }

  function show(r, second) {
    state.result = r;
    $("verification").hidden = false;
    identity(r);
    drawChecks(r.checks || [], r.outcome);
    // No clock before the thaw has ended: the window runs from the end of the thaw.
    if (r.thaw && typeof r.thaw.seconds_left === "number") { useWithin.start(r.thaw.seconds_left); } else { useWithin.hide(); }
    if (r.outcome === "stopped") { return hardStop(r.stop_reason, r.checks || []); }
    var warnings = r.warnings || [];
    $("warnings").hidden = !warnings.length;
    $("warning-list").textContent = "";
    warnings.forEach(function (w) { $("warning-list").appendChild(el("li", null, w)); });
    $("second").hidden = r.outcome !== "incomplete";
    if (r.outcome === "incomplete") {
      if (second) {
        say("second-error", failures(r.checks || []).join(" "));
        $("second-password").value = "";
      }
      $(second ? "second-password" : "second-username").focus();
    }
    if (r.outcome === "passed") { passed(r); }
  }

  function plain(message) {
    var text = String(message || "").replace(/^STOP:\s*/, "");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function failures(checks) {
    return checks.filter(function (c) { return !c.passed; }).map(function (c) { return c.message; });
  }

  function identity(r) {
    var list = $("identity"), p = r.recipient, b = r.bag;
    list.textContent = "";
    [["Patient", p && p.name], ["Born", p && p.birth_date], ["Record number", p && p.hospital_record_number],
      ["Study number", p && p.subject_id], ["Bag", b && b.din.replace(/^(.{5})(..)/, "$1 $2 ") + " · " + b.product_code], ["Lot", b && b.lot],
      ["Infusion", r.infusion_number && "Infusion " + r.infusion_number]].forEach(function (pair) {
      if (!pair[1]) { return; }
      var row = el("div");
      row.appendChild(el("dt", null, pair[0]));
      row.appendChild(el("dd", null, pair[1]));
      list.appendChild(row);
    });
  }

  // Lines turn one after another, so the eye follows each check; unchanged lines stay still.
  function drawChecks(checks, outcome) {
    var list = $("checks"), delay = 0;
    timers.forEach(clearTimeout);  // lines not yet turned are scheduled again below
    timers = [];
    checks.forEach(function (c) {
      var line = list.querySelector('[data-check="' + c.check + '"]');
      if (!line) {
        line = el("li", "check");
        line.dataset.check = c.check;
        line.dataset.testid = "check-" + c.check;
        line.dataset.state = "pending";
        line.appendChild(el("span", "mark"));
        line.appendChild(el("strong", null, WORDS[c.check] || c.check.replace(/_/g, " ")));
        line.appendChild(el("span", "why"));
        list.appendChild(line);
      }
      var next = c.passed ? "passed" : outcome === "stopped" ? "failed" : "waiting";
      if (line.dataset.state === next && line.lastChild.textContent === c.message) { return; }
      delay += STAGGER_MS;
      timers.push(setTimeout(function () {
        line.dataset.state = next;
        line.firstChild.textContent = MARKS[next];
        line.lastChild.textContent = c.message || "";
      }, delay));
    });
  }

  function hardStop(reason, checks) {
    $("second").hidden = true;
    $("passed").hidden = true;
    // The heading already says STOP; the reason follows in plain words.
    var words = plain(reason || "The checks did not pass."), list = $("stop-checks");
    say("stop-reason", words);
    list.textContent = "";
    // Any other failed check, once; not the ones merely waiting for the second nurse.
    checks.forEach(function (c) {
      if (!c.passed && !AWAITED[c.check] && plain(c.message) !== words) { list.appendChild(el("li", null, plain(c.message))); }
    });
    $("stop").hidden = false;
    document.body.classList.add("stopped");
    // Nothing behind the stop can be reached, and the focus is not on its button: a scan's
    // Enter must not clear a stop nobody has read.
    $("bedside").inert = true;
    $("stop").focus();
  }

  function passed(r) {
    $("warnings-ack").disabled = true;
    say("verified-by", "Verified by " + (r.first_verifier || urls.me) + " and " + (r.second_verifier || state.second) + ".");
    $("passed").hidden = false;
    var form = $("start-form");
    form.hidden = false;
    localNow(form.elements.started_at);
    var volume = r.volume_to_infuse_ml;  // prefilled when the answer carries it
    if (volume) { form.elements.volume_ml.value = volume; }
    form.querySelector("button").focus();
  }

  /* ---- the infusion record ---- */

  function submit(form, url, body, done) {
    var button = form.querySelector("button[type=submit]"), problem = form.querySelector(".problem");
    button.disabled = true;
    problem.textContent = "";
    post(url, body).then(done, function (error) { problem.textContent = error.message; }).then(function () { button.disabled = false; });
  }

  function fields(form, timeField) {
    var body = {}, volume = form.elements.volume_ml.value.trim(), time = form.elements[timeField];
    // Left as shown, the time is the server's "now": never before the verification or the
    // start it follows, as the minute the form showed could be.
    if (changed(time)) { body[timeField] = new Date(time.value).toISOString(); }
    if (volume) { body.volume_ml = Number(volume); }
    body.reactions = form.elements.reactions.value.trim();
    return body;
  }

  function startInfusion(event) {
    event.preventDefault();
    var form = event.target, body = fields(form, "started_at");
    body.verification = state.result.uid;
    if (!body.reactions) { delete body.reactions; }
    submit(form, urls.infusionsUrl, body, function (infusion) {
      state.infusing = true;
      useWithin.hide();
      form.hidden = true;
      var end = $("end-form");
      end.hidden = false;
      localNow(end.elements.ended_at);
      end.elements.volume_ml.value = form.elements.volume_ml.value;
      say("started-note", "Started at " + clock(infusion.started_at || body.started_at || Date.now()) + ".");
    });
  }

  function completeInfusion(event) {
    event.preventDefault();
    var form = event.target, body = fields(form, "ended_at");
    var url = urls.infusionsUrl + "/" + encodeURIComponent(state.result.bag.code) + "/completion";
    if (body.volume_ml === undefined) { form.querySelector(".problem").textContent = "Enter the volume infused (mL), as the pump shows it."; return; }
    submit(form, url, body, function (infusion) {
      form.hidden = true;
      $("recorded").hidden = false;
      say("recorded", "Infusion recorded: ended at " + clock(infusion.ended_at || Date.now()) + ", " + infusion.volume_ml + " mL" + ".");
    });
  }

  /* ---- the thaw panel ---- */

  function thawScan(raw) {
    raw = raw.trim();
    if (!raw) { return; }
    state.thaw = null;
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
      state.thaw = { raw: raw, code: bag.code };
      say("thaw-bag", "Bag " + bag.din + " " + bag.check_character + " " + bag.product_code + " · " + bag.status.toUpperCase());
      thawButtons(true);
      return get(urls.thawsUrl + encodeURIComponent(bag.code)).then(showThaw, function (error) {
        if (error.status !== 404) { throw error; }
        say("thaw-status", error.message);  // not in the thawer yet, in the server's words
      });
    });
  }

  function showThaw(t) {
    if (!t.ended_at) { thawWindow.hide(); return say("thaw-status", "Thawing since " + clock(t.started_at) + " (" + t.started_by + ")."); }
    say("thaw-status", "Thawed at " + clock(t.ended_at) + " (" + t.ended_by + "); use by " + clock(t.use_by) + ".");
    thawWindow.start(t.expired ? 0 : t.seconds_left || 0);
  }

  function thawButtons(on) {
    document.querySelectorAll("[data-thaw]").forEach(function (b) { b.disabled = !on; });
  }

  function thawAction(action) {
    var t = state.thaw;
    if (!t) { return; }
    say("thaw-error");
    post(urls.scanUrl, { action: action, bag: t.raw }).then(function () { return describeThaw(t.raw); })
      .catch(function (error) { say("thaw-error", error.message); });
  }

  /* ---- starting again, tabs, wiring ---- */

  function clearResult() {
    state.seq += 1;
    timers.forEach(clearTimeout);
    timers = [];
    state.result = null;
    useWithin.hide();
    ["verification", "warnings", "second", "passed", "start-form", "end-form", "recorded"].forEach(function (id) { $(id).hidden = true; });
    $("checks").textContent = "";
    $("warnings-ack").disabled = false;
    $("warnings-ack").checked = false;
    ["verify-error", "second-error"].forEach(function (id) { say(id); });
  }

  function reset() {
    state = { wristband: null, bag: null, result: null, second: null, infusing: false, seq: (state ? state.seq : 0), thaw: state && state.thaw };
    clearResult();
    document.querySelectorAll("#tab-verify form").forEach(function (f) { f.reset(); f.classList.remove("done"); });
    document.querySelectorAll("#tab-verify details").forEach(function (d) { d.open = false; });
    ["wristband-read", "bag-read", "stop-reason"].forEach(function (id) { say(id); });
    $("stop").hidden = true;
    $("bedside").inert = false;
    document.body.classList.remove("stopped");
    $("wristband-input").focus();
  }

  function showTab(name) {
    document.querySelectorAll(".tab").forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.tab === name)); });
    $("tab-verify").hidden = name !== "verify";
    $("tab-thaw").hidden = name !== "thaw";
    $(name === "thaw" ? "thaw-input" : state.wristband ? "bag-input" : "wristband-input").focus();
  }

  function onEnter(input, action) {
    input.addEventListener("keydown", function (e) {
      if (e.key !== "Enter") { return; }
      e.preventDefault();
      action(input.value);
      if (input.classList.contains("scan-input")) { input.value = ""; }
    });
  }

  document.querySelectorAll("form").forEach(function (f) { f.addEventListener("submit", function (e) { e.preventDefault(); }); });
  onEnter($("wristband-input"), function (raw) { take(raw); });
  onEnter($("bag-input"), function (raw) { take(raw); });
  onEnter($("thaw-input"), thawScan);
  ["record-number", "birth-date"].forEach(function (id) { onEnter($(id), typedWristband); });
  ["typed-din", "typed-k", "typed-product"].forEach(function (id) { onEnter($(id), typedBag); });
  $("wristband-typed").addEventListener("click", typedWristband);
  $("bag-typed").addEventListener("click", typedBag);
  $("second").addEventListener("submit", function () {
    if (!$("warnings").hidden && !$("warnings-ack").checked) { return say("second-error", "Tick the box to confirm the warnings were acknowledged."); }
    state.second = $("second-username").value.trim();
    verify({ username: state.second, password: $("second-password").value });
  });
  $("start-form").addEventListener("submit", startInfusion);
  $("end-form").addEventListener("submit", completeInfusion);
  document.querySelectorAll(".restart").forEach(function (b) { b.addEventListener("click", reset); });
  document.querySelectorAll(".tab").forEach(function (b) { b.addEventListener("click", function () { showTab(b.dataset.tab); }); });
  document.querySelectorAll("[data-thaw]").forEach(function (b) { b.addEventListener("click", function () { thawAction(b.dataset.thaw); }); });
  reset();
})();
