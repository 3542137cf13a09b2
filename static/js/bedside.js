/* The bedside check: the wristband, then the bag, the server's checks shown one by one, a
 * second nurse's own credentials, then the infusion record. Every rule lives on the server;
 * this page never decides that a bag may be given, and offers no way past a stop.
 *
 * The server is the memory: a wristband read on any tablet shows the infusion under way for
 * that patient, with the form to record its end. Only a read that failed is held here (the
 * wristband already read, for a short while, on this screen only). */
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
  var MARKS = { passed: "✓", failed: "✗", waiting: "…", pending: "", skipped: "–" };
  var STAGGER_MS = 150;
  var AMBER_S = 600;
  var EXPIRED = "Post-thaw window passed — do not infuse";

  var $ = function (id) { return document.getElementById(id); };
  var urls = $("bedside").dataset;
  var holdSeconds = Number(urls.holdWristbandSeconds) || 120;
  var state, timers = [];

  /* ---- talking to the server ---- */

  function post(url, body) { return window.custodyApi.post(url, body, "try again"); }

  /* ---- small pieces ---- */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function say(id, message) { $(id).textContent = message || ""; }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function bagWords(b) {
    return "DIN " + dinWords(b.din) + " [" + b.check_character + "] · product " + b.product_code.slice(0, 6) + " · division " + b.product_code.slice(6);
  }
  function dinWords(din) { return din.slice(0, 5) + " " + din.slice(5, 7) + " " + din.slice(7); }

  function facts(list, pairs) {
    list.textContent = "";
    pairs.forEach(function (pair) {
      if (!pair[1]) { return; }
      var row = el("div");
      row.appendChild(el("dt", null, pair[0]));
      row.appendChild(el("dd", null, pair[1]));
      list.appendChild(row);
    });
  }

  // Shared with the thaw panel (bedside_thaw.js): the same clock, the same colours.
  var countdown = window.custodyCountdown = function (node, onExpire) {
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
  };

  var useWithin = countdown($("countdown"), function () { hardStop(EXPIRED, []); });

  /* ---- step 1: the wristband, and the infusion under way ---- */

  function takeWristband(raw) {
    raw = raw.trim();
    if (!raw) { return; }
    clearResult();
    var seq = state.seq;
    post(urls.wristbandUrl, { wristband: raw }).then(function (found) {
      if (seq !== state.seq) { return; }
      state.wristband = raw;
      var w = found.wristband, r = found.recipient;
      say("wristband-read", (r ? r.name + " · " + r.subject_id + " · " : "") + "Record number " + w.patient_number + " · born " + w.birth_date);
      $("wristband-step").classList.add("done");
      hideRescan();
      if (found.infusion_in_progress) { record.show(found.infusion_in_progress); }
      $("bag-input").focus();
    }, function (error) {
      if (seq !== state.seq) { return; }
      if (error.status === 422) { return showRescan("wristband", error.message); }
      say("verify-error", error.message);
    });
  }

  function typedWristband() {
    var number = $("record-number").value.replace(/\s+/g, ""), born = $("birth-date").value;
    if (!number || !born) { return say("verify-error", "Type the hospital record number and the date of birth from the wristband."); }
    takeWristband("&#00" + two(number.length) + number + "=#00" + born.replace(/-/g, ""));
  }

  /* ---- step 2: the bag ---- */

  function takeBag(raw, typedReason) {
    raw = raw.trim();
    if (!raw) { return; }
    if (!state.wristband) { return say("verify-error", "Scan the patient's wristband first, then the bag."); }
    state.bag = raw;
    state.typedReason = typedReason || "";
    say("bag-read", typedReason ? "Typed: " + raw : "Bag label read.");
    $("bag-step").classList.add("done");
    hideRescan();
    if (camera.running()) { camera.stop(); }
    if (record.bag()) { return sameBagAsRunning(raw); }
    verify();
  }

  // During its own infusion, a scan of the bag being infused is a confirmation, not a stop.
  function sameBagAsRunning(raw) {
    post(urls.lookupUrl, { data: raw }).then(function (found) {
      if (found.kind === "bag" && found.bag.code === record.bag()) {
        say("running-bag-check", "✓ This is the bag being infused: " + dinWords(found.bag.din) + " [" + found.bag.check_character + "] " + found.bag.product_code + ".");
        return;
      }
      verify();
    }, function () { verify(); });
  }

  function typedBag() {
    var din = $("typed-din").value.replace(/\s+/g, ""), k = $("typed-k").value.trim(), product = $("typed-product").value.trim();
    var reason = $("typed-reason").value.trim();
    if (!din || !k || !product) { return say("verify-error", "Type the DIN, the character in the box after it, and the product code."); }
    if (!reason) { return say("verify-error", "Say why the label is typed, not scanned: it is kept with the check."); }
    takeBag(din + " " + k + " " + product, reason);
  }

  /* ---- the verification ---- */

  function verify(second) {
    var seq = state.seq, body = { recipient: state.wristband, bag: state.bag, warnings_acknowledged: $("warnings-ack").checked };
    if (state.typedReason) { body.typed_reason = state.typedReason; }
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
    if (r.outcome === "unreadable") { return unreadable(r); }
    $("verification").hidden = false;
    identity(r);
    // What the label names, large, to match against the bag in hand: a lot's bags share one
    // DIN, so the division in the product code tells them apart.
    if (r.bag) { say("bag-read", bagWords(r.bag)); }
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

  // A read failed: say which, keep the other read, and ask for that one again. Not a stop.
  function unreadable(r) {
    var failed = (r.checks || []).filter(function (c) { return c.rescan; }).map(function (c) { return c.check; });
    var words = plain(r.stop_reason);
    if (failed.indexOf("wristband") >= 0) {
      state.wristband = null;
      $("wristband-step").classList.remove("done");
      say("wristband-read");
    }
    state.bag = null;
    $("bag-step").classList.remove("done");
    say("bag-read");
    showRescan(failed.indexOf("wristband") >= 0 ? "wristband" : "bag", words);
  }

  function showRescan(which, words) {
    say("rescan-words", plain(words));
    $("rescan").hidden = false;
    $("rescan").dataset.which = which;
    if (which === "wristband") {
      state.wristband = null;
      $("wristband-step").classList.remove("done");
      $("wristband-input").focus();
      return;
    }
    holdWristband();
    $("bag-input").focus();
  }

  function hideRescan() { $("rescan").hidden = true; say("rescan-words"); }

  // The wristband read before a failed bag read stays, on this screen only, for a short while.
  function holdWristband() {
    clearTimeout(state.holdTimer);
    state.holdTimer = setTimeout(function () {
      reset();
      say("verify-error", "The wristband was cleared after " + Math.round(holdSeconds / 60) + " minutes: scan the patient's wristband again.");
    }, holdSeconds * 1000);
  }

  function plain(message) {
    var text = String(message || "").replace(/^STOP:\s*/, "");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function failures(checks) {
    return checks.filter(function (c) { return !c.passed && c.checked !== false; }).map(function (c) { return c.message; });
  }

  function identity(r) {
    var p = r.recipient, b = r.bag;
    facts($("identity"), [["Patient", p && p.name], ["Born", p && p.birth_date], ["Record number", p && p.hospital_record_number],
      ["Study number", p && p.subject_id], ["Bag", b && dinWords(b.din) + " [" + b.check_character + "] · " + b.product_code], ["Lot", b && b.lot],
      ["Infusion", r.infusion_number && "Infusion " + r.infusion_number]]);
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
      var next = c.passed ? "passed" : c.checked === false ? "skipped" : outcome === "stopped" ? "failed" : "waiting";
      var words = c.checked === false ? "Not checked yet." : c.message;
      if (line.dataset.state === next && line.lastChild.textContent === words) { return; }
      delay += STAGGER_MS;
      timers.push(setTimeout(function () {
        line.dataset.state = next;
        line.firstChild.textContent = MARKS[next];
        line.lastChild.textContent = words || "";
      }, delay));
    });
  }

  function hardStop(reason, checks) {
    $("second").hidden = true;
    $("passed").hidden = true;
    if (camera.running()) { camera.stop(); }
    var words = plain(reason || "The checks did not pass."), list = $("stop-checks"), said = {};
    say("stop-reason", words);
    said[words] = true;
    list.textContent = "";
    // Each other check that ran and failed, once; not those that could not run, nor those
    // merely waiting for the second nurse.
    checks.forEach(function (c) {
      var line = plain(c.message);
      if (c.passed || c.checked === false || said[line] || c.check === "second_verifier" || c.check === "eligibility_warnings") { return; }
      said[line] = true;
      list.appendChild(el("li", null, line));
    });
    $("stop").hidden = false;
    document.body.classList.add("stopped");
    // Nothing behind the stop can be reached, and the focus is not on its button: a scan's
    // Enter must not clear a stop nobody has read.
    $("bedside").inert = true;
    setHeaderInert(true);
    $("stop").focus();
  }

  function passed(r) {
    $("warnings-ack").disabled = true;
    say("verified-by", "Verified by " + (r.first_verifier || urls.me) + " and " + (r.second_verifier || state.second) + ".");
    $("passed").hidden = false;
    record.prepareStart(r, state.wristband, function () {
      useWithin.hide();
      $("verification").hidden = true;
    });
  }

  /* ---- starting again, tabs, wiring ---- */

  function clearResult() {
    state.seq += 1;
    timers.forEach(clearTimeout);
    timers = [];
    state.result = null;
    useWithin.hide();
    ["verification", "warnings", "second", "passed", "start-form"].forEach(function (id) { $(id).hidden = true; });
    $("checks").textContent = "";
    $("warnings-ack").disabled = false;
    $("warnings-ack").checked = false;
    ["verify-error", "second-error"].forEach(function (id) { say(id); });
  }

  // Behind a stop nothing may be reached, the navigation bar and its search field included.
  function setHeaderInert(inert) {
    var header = document.querySelector("header.topbar");
    if (header) { header.inert = inert; }
  }

  function reset() {
    if (state) { clearTimeout(state.holdTimer); }
    state = { wristband: null, bag: null, result: null, second: null, typedReason: "",
      holdTimer: null, seq: (state ? state.seq : 0) };
    clearResult();
    if (bagField) { bagField.reset(); }
    document.querySelectorAll("#tab-verify form").forEach(function (f) { f.reset(); f.classList.remove("done"); });
    document.querySelectorAll("#tab-verify details").forEach(function (d) { d.open = false; });
    ["wristband-read", "bag-read", "stop-reason", "running-bag-check"].forEach(function (id) { say(id); });
    record.hide();
    hideRescan();
    $("stop").hidden = true;
    $("bedside").inert = false;
    setHeaderInert(false);
    document.body.classList.remove("stopped");
    $("wristband-input").focus();
  }

  function showTab(name) {
    document.querySelectorAll("button.tab").forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.tab === name)); });
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

  var record = window.custodyInfusionRecord;
  var scanOptions = { pairSeconds: Number(urls.pairSeconds) || 20, suffix: urls.scanSuffix || "" };
  var wristbandField = window.custodyScanField($("wristband-input"), Object.assign({ onRead: takeWristband }, scanOptions));
  var bagField = window.custodyScanField($("bag-input"), Object.assign({ onRead: function (data) { takeBag(data); }, status: $("bag-pairing") }, scanOptions));
  var camera = window.custodyCamera($("camera"), {
    decodeUrl: urls.decodeUrl, view: $("camera-view"), status: $("camera-status"),
    // A wristband symbol (its data starts "&#") goes to the wristband step whatever
    // step is showing, so a camera pointed at the wrong thing first cannot mistake it.
    // The wristband already taken, seen again while the nurse turns to the bag, is no news.
    onRead: function (text) {
      if (text.trim() === state.wristband) { return; }
      (/^\s*&#/.test(text) || !state.wristband ? wristbandField : bagField).read(text);
    }
  });

  document.querySelectorAll("form").forEach(function (f) { f.addEventListener("submit", function (e) { e.preventDefault(); }); });
  ["record-number", "birth-date"].forEach(function (id) { onEnter($(id), typedWristband); });
  ["typed-din", "typed-k", "typed-product", "typed-reason"].forEach(function (id) { onEnter($(id), typedBag); });
  $("wristband-typed").addEventListener("click", typedWristband);
  $("bag-typed").addEventListener("click", typedBag);
  $("second").addEventListener("submit", function () {
    if (!$("warnings").hidden && !$("warnings-ack").checked) { return say("second-error", "Tick the box to confirm the warnings were acknowledged."); }
    state.second = $("second-username").value.trim();
    verify({ username: state.second, password: $("second-password").value });
  });
  document.querySelectorAll(".restart").forEach(function (b) { b.addEventListener("click", reset); });
  // A stop holds the focus: Tab stays on its one way out.
  $("stop").addEventListener("keydown", function (e) {
    if (e.key === "Tab") { e.preventDefault(); $("stop").querySelector("button").focus(); }
  });
  document.querySelectorAll("button.tab").forEach(function (b) { b.addEventListener("click", function () { showTab(b.dataset.tab); }); });
  $("hold-minutes").textContent = String(Math.round(holdSeconds / 60));
  reset();
})();
