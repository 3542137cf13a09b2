/* The scan station: one field a keyboard-wedge scanner types into, Enter ends a scan.
 * Every rule lives on the server; this page looks scans up, offers the actions the server
 * allows, and shows the server's answer (green or red, with a sound) in its own words. */
(function () {
  "use strict";

  var NOT_BY_SCAN = ["allocate", "deallocate", "verify", "infuse", "handoff"];
  var NEEDS_LOCATION = ["store", "move"];
  var NEEDS_SHIPMENT = ["pack", "unpack", "receive"];
  var NEEDS_REASON = ["discard", "reject", "return", "unpack"];
  var DONE = {
    quarantine: "Quarantined", store: "Stored", move: "Moved", retrieve: "Retrieved",
    release: "Released", pack: "Packed", unpack: "Unpacked", receive: "Received",
    thaw: "Thawed", "return": "Returned", reject: "Rejected", discard: "Discarded"
  };
  var STATION_KEY = "custody.scanStation";

  var root = document.getElementById("station");
  var $ = function (id) { return document.getElementById(id); };
  var input = $("scan-input");
  var state = { mode: "single", target: null, bag: null, bagRaw: null, pending: null };
  var queue = Promise.resolve();
  var audio = null;

  /* ---- talking to the server ---- */

  function post(url, body) { return window.custodyApi.post(url, body, "scan again"); }

  function lookup(raw) { return post(root.dataset.lookupUrl, { data: raw }); }

  /* ---- feedback: panel, sound, running log ---- */

  function say(kind, message) {
    var ok = $("feedback-ok"), bad = $("feedback-error");
    ok.textContent = ""; bad.textContent = "";
    (kind === "ok" ? ok : bad).textContent = message;
    root.dataset.sound = kind;
    sound(kind);
  }

  function sound(kind) {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) { return; }
      audio = audio || new Context();
      if (audio.state === "suspended") { audio.resume(); }
      var now = audio.currentTime;
      // OK: one high beep. Refused: two low buzzes, unmistakable without looking.
      var tones = kind === "ok" ? [[1320, 0, 0.15]] : [[140, 0, 0.2], [140, 0.28, 0.2]];
      tones.forEach(function (tone) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = kind === "ok" ? "sine" : "square";
        osc.frequency.value = tone[0];
        gain.gain.setValueAtTime(0.2, now + tone[1]);
        gain.gain.exponentialRampToValueAtTime(0.001, now + tone[1] + tone[2]);
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(now + tone[1]);
        osc.stop(now + tone[1] + tone[2] + 0.02);
      });
    } catch (ignored) { /* no sound device: the panel still says it */ }
  }

  function log(kind, message) {
    var line = el("li", "log-" + kind, message);
    line.dataset.result = kind;
    $("log").insertBefore(line, $("log").firstChild);
  }

  function succeed(message) { say("ok", message); log("ok", message); }
  function refuse(message) { say("error", message); log("error", message); }

  /* ---- building the page ---- */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function dinWords(din) { return din.slice(0, 5) + " " + din.slice(5, 7) + " " + din.slice(7); }

  function identity(din, check, product) {
    var node = el("span", "identity");
    node.appendChild(el("span", "din", dinWords(din)));
    var box = el("span", "k-box", check);
    box.title = "Keyboard check character";
    node.appendChild(box);
    if (product) { node.appendChild(el("span", "product", product)); }
    return node;
  }

  function bagWords(bag) { return dinWords(bag.din) + " " + bag.check_character + " " + bag.product_code; }

  function facts(pairs) {
    var list = el("dl", "facts");
    pairs.forEach(function (pair) {
      if (pair[1] === null || pair[1] === undefined || pair[1] === "") { return; }
      var row = el("div");
      row.appendChild(el("dt", null, pair[0]));
      var value = el("dd");
      if (typeof pair[1] === "string") { value.textContent = pair[1]; } else { value.appendChild(pair[1]); }
      if (pair[2]) { value.dataset.testid = pair[2]; }
      row.appendChild(value);
      list.appendChild(row);
    });
    return list;
  }

  function badge(kind, value) { return el("span", kind + " " + kind + "-" + value, value.replace(/_/g, " ").toUpperCase()); }

  function warnings(items, determination) {
    var box = el("div", "warnings");
    box.setAttribute("role", "note");
    box.dataset.testid = "eligibility-warnings";
    box.appendChild(el("h2", null, "Donor eligibility: " + determination.toUpperCase()));
    var list = el("ul");
    items.forEach(function (w) { list.appendChild(el("li", null, w)); });
    box.appendChild(list);
    return box;
  }

  function show(node) {
    var result = $("result");
    result.textContent = "";
    if (node) { result.appendChild(node); }
  }

  function showBag(bag) {
    var card = el("article", "card scanned bag");
    card.dataset.testid = "scanned-bag";
    var title = el("h2", "scanned-title");
    title.appendChild(identity(bag.din, bag.check_character, bag.product_code));
    card.appendChild(title);
    if (bag.warnings && bag.warnings.length) { card.appendChild(warnings(bag.warnings, bag.donor_eligibility)); }
    var link = el("a", null, "Bag page and custody history");
    link.href = root.dataset.bagUrl.replace("BAGCODE", encodeURIComponent(bag.code));
    card.appendChild(facts([
      ["Division", bag.division],
      ["State", badge("state", bag.status), "bag-state"],
      ["Location", bag.location, "bag-location"],
      ["Lot", bag.lot],
      ["Lot status", badge("disposition", bag.lot_status), "lot-status"],
      ["Recipient", bag.recipient],
      ["History", link]
    ]));
    var actions = bag.allowed_actions.filter(function (a) { return NOT_BY_SCAN.indexOf(a) < 0; });
    var buttons = el("div", "actions");
    buttons.setAttribute("role", "group");
    buttons.setAttribute("aria-label", "Next actions");
    if (!actions.length) { buttons.appendChild(el("p", null, "No scan action is possible for this bag now.")); }
    actions.forEach(function (action) {
      var button = el("button", "action", action.charAt(0).toUpperCase() + action.slice(1));
      button.type = "button";
      button.addEventListener("click", function () { choose(action); });
      buttons.appendChild(button);
    });
    card.appendChild(buttons);
    show(card);
  }

  function showDonation(donation, raw) {
    var card = el("article", "card scanned donation");
    card.dataset.testid = "scanned-donation";
    var title = el("h2", "scanned-title", "Collection ");
    title.appendChild(identity(donation.din, donation.check_character));
    card.appendChild(title);
    if (donation.warnings && donation.warnings.length) {
      card.appendChild(warnings(donation.warnings, donation.donor_eligibility));
    }
    card.appendChild(facts([
      ["Donor", donation.donor], ["Facility", donation.facility],
      ["Collected", donation.collected_at], ["Volume", donation.volume_ml + " mL"],
      ["Received", donation.received_at || "not yet", "donation-received"]
    ]));
    if (!donation.received_at) { card.appendChild(receiptForm(donation, raw)); }
    show(card);
  }

  function receiptForm(donation, raw) {
    var form = el("form", "receipt");
    form.setAttribute("aria-label", "Receive collection");
    form.innerHTML =
      '<label>Condition on arrival <select name="condition">' +
      '<option value="intact">Intact, sealed</option><option value="container damaged">Container damaged</option>' +
      '<option value="leaking">Leaking</option><option value="label damaged">Label damaged or unreadable</option>' +
      '</select></label><label>Temperature on arrival (°C) <input name="temperature" type="number" step="0.1" ' +
      'min="-273" max="100" inputmode="decimal" required></label>' +
      '<button type="submit" class="action">Receive collection</button>';
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = { scan: raw, condition: form.elements.condition.value };
      var temperature = form.elements.temperature.value.trim();
      if (temperature !== "") { body.temperature_c = Number(temperature); }
      enqueue(function () {
        return post(root.dataset.receiptUrl, body).then(function () {
          succeed("Collection " + dinWords(donation.din) + " " + donation.check_character + " received: " +
            body.condition + (temperature !== "" ? ", " + temperature + " °C" : "") + ".");
          return lookup(raw).then(function (found) { showDonation(found.donation, raw); }, function () {});
        }, function (error) { refuse(error.message); });
      });
    });
    return form;
  }

  function showTarget() {
    var box = $("target");
    box.textContent = "";
    box.hidden = !state.target;
    if (!state.target) { return; }
    var t = state.target;
    if (t.kind === "box") {
      box.appendChild(el("h2", null, "Storing into " + t.location.name));
      box.appendChild(el("p", "path", t.location.path));
      var grid = el("ol", "positions");
      t.slots.forEach(function (slot) {
        var cell = el("li", slot.bag ? "taken" : "free", slot.name);
        cell.appendChild(el("small", null, slot.bag ? slot.bag : "empty"));
        cell.dataset.position = slot.code;
        grid.appendChild(cell);
      });
      box.appendChild(grid);
    } else {
      box.appendChild(el("h2", null, (t.action === "pack" ? "Packing into " : "Receiving from ") + t.shipment.code));
      box.appendChild(el("p", "path", "To " + t.shipment.destination_site + " · " + t.count + " bag(s) in it"));
    }
  }

  /* ---- what to scan next ---- */

  function prompt() {
    var words, p = state.pending, t = state.target;
    if (p && p.needs === "location") {
      words = "Scan the position (LOC-…) to " + p.action + " bag " + bagWords(p.bag) + " into";
    } else if (p && p.needs === "shipment") {
      words = "Scan the shipment (SHP-…) to " + p.action + " bag " + bagWords(p.bag);
    } else if (state.mode === "box") {
      var free = t && nextFree();
      words = !t ? "Scan the box (LOC-…) to store bags into"
        : free ? "Scan a bag to store it in " + free.name + " of " + t.location.name
          : t.location.name + " is full: scan another box";
    } else if (state.mode === "shipment") {
      words = t ? "Scan a bag to " + t.action + " it: shipment " + t.shipment.code
        : "Scan the shipment (SHP-…) to pack bags into";
    } else {
      words = "Scan a bag, a collection, a location or a shipment";
    }
    $("scan-prompt").textContent = words;
    $("cancel").hidden = !p && !t;
    document.querySelectorAll(".mode").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.mode === state.mode));
    });
  }

  function nextFree() {
    return state.target.slots.filter(function (s) { return !s.bag; })[0] || null;
  }

  function setMode(mode) {
    state.mode = mode; state.target = null; state.pending = null;
    $("reason-box").hidden = true;
    showTarget(); prompt(); focusScan();
  }

  /* ---- scans ---- */

  function enqueue(task) {
    // Scans are handled one after another, in the order they were made.
    queue = queue.then(task).catch(function (error) { refuse(error.message); }).then(function () {
      prompt(); focusScan();
    });
    return queue;
  }

  function onScan(raw) {
    if (state.pending && state.pending.needs) { return finish(state.pending, raw); }
    return lookup(raw).then(function (found) {
      if (found.kind === "location") { return target("box", found.location); }
      if (found.kind === "shipment") { return target("shipment", found.shipment); }
      if (state.mode !== "single") { return batch(raw, found); }
      if (found.kind === "donation") {
        state.bag = null;
        showDonation(found.donation, raw);
        return say("ok", "Collection " + dinWords(found.donation.din) + " " + found.donation.check_character + " found.");
      }
      state.bag = found.bag; state.bagRaw = raw;
      showBag(found.bag);
      say("ok", "Bag " + bagWords(found.bag) + ": " + found.bag.status.toUpperCase() + ".");
    }, function (error) { refuse(error.message); });
  }

  function target(mode, found) {
    state.pending = null;
    if (mode === "box") {
      var slots = found.kind === "position" ? [found] : found.children.filter(function (c) { return c.kind === "position"; });
      if (!slots.length) { return refuse(found.name + " (" + found.code + ") holds no positions: scan a box or a position."); }
      state.mode = "box";
      state.target = { kind: "box", location: found, slots: slots };
      showTarget();
      if (!nextFree()) { return refuse(found.name + " has no empty position: scan another box."); }
      return say("ok", "Storing into " + found.name + ": scan the bags.");
    }
    var action = { packing: "pack", in_transit: "receive" }[found.status];
    if (!action) { return refuse("Shipment " + found.code + " was already received: nothing can be scanned into it."); }
    state.mode = "shipment";
    state.target = { kind: "shipment", shipment: found, action: action, count: found.bags };
    showTarget();
    return say("ok", (action === "pack" ? "Packing into " : "Receiving from ") + found.code + ": scan the bags.");
  }

  function batch(raw, found) {
    if (found.kind !== "bag") {
      return refuse("That is a collection (DIN " + dinWords(found.donation.din) + "), not a bag: choose Single scans to receive it.");
    }
    var bag = found.bag, t = state.target;
    showBag(bag);
    state.bag = bag; state.bagRaw = raw;
    if (!t) { return refuse("Scan the " + (state.mode === "box" ? "box (LOC-…)" : "shipment (SHP-…)") + " first, then the bags."); }
    var request = { action: t.action, bag: bag, raw: raw };
    if (t.kind === "box") {
      var here = t.slots.filter(function (s) { return s.code === bag.storage_position; })[0];
      // A second read of the same bag must not move it on to the next position.
      if (here) { return refuse("Bag " + bagWords(bag) + " is already in " + here.name + " of this box."); }
      var slot = nextFree();
      if (!slot) { return refuse(t.location.name + " is full: scan another box."); }
      // A bag already in storage is moved; the server refuses anything else with its reason.
      request.action = bag.allowed_actions.indexOf("move") >= 0 ? "move" : "store";
      request.location = slot.code;
      request.slot = slot;
    } else {
      request.shipment = t.shipment.code;
    }
    return send(request);
  }

  function choose(action) {
    if (!state.bag) { return; }
    state.pending = { action: action, bag: state.bag, raw: state.bagRaw };
    if (NEEDS_REASON.indexOf(action) >= 0) { return askReason(); }
    next();
  }

  function askReason() {
    $("reason-label").textContent = "Reason to " + state.pending.action + " bag " + bagWords(state.pending.bag);
    $("reason-box").hidden = false;
    $("reason-input").value = "";
    $("reason-input").focus();
  }

  function next() {
    var p = state.pending;
    $("reason-box").hidden = true;
    if (NEEDS_LOCATION.indexOf(p.action) >= 0) { p.needs = "location"; }
    else if (NEEDS_SHIPMENT.indexOf(p.action) >= 0) { p.needs = "shipment"; }
    if (p.needs) { prompt(); focusScan(); return; }
    enqueue(function () { return send(p); });
  }

  function finish(p, raw) {
    p[p.needs] = raw;
    return send(p);
  }

  function send(p) {
    state.pending = null;
    var body = { action: p.action, bag: p.raw, expected_version: p.bag.version };
    ["location", "shipment", "reason"].forEach(function (key) { if (p[key]) { body[key] = p[key]; } });
    var station = $("station-name").value.trim();
    if (station) { body.station = station; }
    return post(root.dataset.scanUrl, body).then(function (event) {
      if (p.slot) { p.slot.bag = p.bag.code; }
      if (state.target && state.target.kind === "shipment" && p.action === "pack") { state.target.count += 1; }
      showTarget();
      var where = event.location_path || (event.shipment ? "shipment " + event.shipment : "");
      succeed((DONE[event.action] || event.action) + ": " + bagWords(p.bag) + " · " +
        String(event.from_status || "").toUpperCase() + " → " + String(event.to_status).toUpperCase() +
        (where ? " · " + where : ""));
      return lookup(p.bag.code).then(function (found) {
        state.bag = found.bag; state.bagRaw = p.bag.code; showBag(found.bag);
      }, function () {});
    }, function (error) { refuse(error.message); });
  }

  /* ---- focus: the scan field always has it, except while a person types a reason or form ---- */

  function typingElsewhere() {
    var active = document.activeElement;
    return active && active !== input && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  function focusScan() { if (!typingElsewhere()) { input.focus(); } }

  function init() {
    var name = $("station-name");
    name.value = localStorage.getItem(STATION_KEY) || "Lab scan station";
    name.addEventListener("change", function () { localStorage.setItem(STATION_KEY, name.value.trim()); });
    name.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); name.blur(); input.focus(); } });

    $("scan-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var raw = input.value;
      input.value = "";
      if (!raw.trim()) { return; }
      enqueue(function () { return onScan(raw); });
    });
    input.addEventListener("blur", function () { setTimeout(focusScan, 0); });
    document.addEventListener("click", function () { setTimeout(focusScan, 0); });
    window.addEventListener("focus", focusScan);
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { cancel(); }
    });
    document.querySelectorAll(".mode").forEach(function (button) {
      button.addEventListener("click", function () { setMode(button.dataset.mode); });
    });
    $("cancel").addEventListener("click", cancel);
    $("reason-ok").addEventListener("click", confirmReason);
    $("reason-input").addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); confirmReason(); }
    });
    $("reason-cancel").addEventListener("click", cancel);

    prompt();
    input.focus();
    if (input.dataset.prefill) {
      var first = input.dataset.prefill;
      enqueue(function () { return onScan(first); });
    }
  }

  function confirmReason() {
    var reason = $("reason-input").value.trim();
    if (!reason) { say("error", "Type the reason: it goes into the custody record."); $("reason-input").focus(); return; }
    state.pending.reason = reason;
    $("reason-input").blur();
    next();
  }

  function cancel() {
    if (state.pending) { state.pending = null; }
    else if (state.target) { state.target = null; showTarget(); }
    $("reason-box").hidden = true;
    $("reason-input").blur();
    prompt();
    input.focus();
  }

  init();
})();
