/* The scan station: one field a keyboard-wedge scanner (or the camera) types into.
 *
 * Every rule lives on the server; this page looks each read up, does what the station's mode
 * says with it, and shows the server's answer (green or red, with a sound) in its own words.
 * The mode changes only on an explicit act: a tap on a mode button, or a printed command
 * barcode (CMD-STORE … CMD-DONE). In single scans a location or a shipment is shown, never
 * taken as a target, so the next bag is only looked up. The mode says in large words what the
 * next scan will do. The day's log is the server's, read again after each action. */
(function () {
  "use strict";

  var V = window.custodyStationView;
  var NOT_BY_SCAN = ["allocate", "deallocate", "verify", "infuse", "handoff"];
  var NEEDS_LOCATION = ["store", "move"];
  var NEEDS_SHIPMENT = ["pack", "unpack", "receive"];
  var NEEDS_REASON = ["discard", "reject", "return", "unpack"];
  // A printed command names the mode it starts; DONE is back to single scans.
  var COMMANDS = { store: "box", move: "box", retrieve: "retrieve", pack: "pack", receive: "receive", discard: "discard", done: "single" };
  var MODE_NAMES = { single: "single scans", box: "store into box", retrieve: "retrieve", pack: "pack into shipment", receive: "receive from shipment", discard: "discard" };
  // How deep a scanned location's tree goes to reach its positions (site → position is 4).
  var DEPTH_TO_POSITIONS = { site: 4, freezer: 3, rack: 2 };
  var KIND_WORDS = { bag: "a bag", donation: "a collection", location: "a location", shipment: "a shipment" };
  var STATION_KEY = "custody.scanStation";
  var DEFAULT_STATION = "Lab scan station";

  var $ = function (id) { return document.getElementById(id); };
  var root = $("station"), input = $("scan-input");
  var state = { mode: "single", target: null, reason: "", bag: null, bagRaw: null, pending: null, held: null };
  var queue = Promise.resolve(), logRequest = 0, field = null;

  /* ---- talking to the server ---- */

  function post(url, body) { return window.custodyApi.post(url, body, "scan again"); }

  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).catch(function () {
      throw new Error("The server could not be reached: check the network, then scan again.");
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) { return data; }
        throw new Error((data.error && data.error.message) || "The server answered " + response.status + ".");
      });
    });
  }

  function lookup(raw) { return post(root.dataset.lookupUrl, { data: raw }); }

  function stationName() { return $("station-name").value.trim() || DEFAULT_STATION; }

  /* ---- feedback: echo, panel, sound; the log of the day from the server ---- */

  function say(kind, message) {
    var ok = $("feedback-ok"), bad = $("feedback-error");
    ok.textContent = ""; bad.textContent = "";
    (kind === "error" ? bad : ok).textContent = message;
    root.dataset.sound = kind;
    V.sound(kind);
  }

  function refuse(message) { say("error", message); }

  function echo(text) { $("echo").textContent = text; }

  function refreshLog() {
    var mine = ++logRequest, station = stationName();
    return get(root.dataset.logUrl + "?station=" + encodeURIComponent(station)).then(function (data) {
      if (mine !== logRequest) { return; }
      var list = $("log");
      list.textContent = "";
      data.items.forEach(function (item) { list.appendChild(V.logLine(item, root.dataset.siteZone)); });
      $("log-status").textContent = data.items.length ? "" : "Nothing done at " + station + " today yet.";
      root.dataset.logCount = String(data.items.length);
    }, function (error) {
      if (mine === logRequest) { $("log-status").textContent = "The log could not be read: " + error.message; }
    });
  }

  /* ---- what the page shows ---- */

  function show(node) {
    var result = $("result");
    result.textContent = "";
    if (node) { result.appendChild(node); }
  }

  function showBag(bag, raw) {
    state.bag = bag; state.bagRaw = raw;
    var actions = state.mode === "single" ? bag.allowed_actions.filter(function (a) { return NOT_BY_SCAN.indexOf(a) < 0; }) : null;
    show(V.bagCard(bag, { bagUrl: root.dataset.bagUrl, actions: actions, onAction: choose }));
  }

  function showDonation(donation, raw) {
    show(V.donationCard(donation, function (condition, temperature) { receiveCollection(donation, raw, condition, temperature); }));
  }

  function receiveCollection(donation, raw, condition, temperature) {
    var body = { scan: raw, condition: condition };
    if (temperature !== "") { body.temperature_c = Number(temperature); }
    enqueue(function () {
      return post(root.dataset.receiptUrl, body).then(function () {
        say("ok", "Collection " + V.dinWords(donation.din) + " " + donation.check_character + " received: " +
          condition + (temperature !== "" ? ", " + temperature + " °C" : "") + ".");
        return lookup(raw).then(function (found) { showDonation(found.donation, raw); }, function () {});
      }, function (error) { refuse(error.message); });
    });
  }

  function showLocation(location) {
    var depth = DEPTH_TO_POSITIONS[location.kind];
    if (!depth) { return Promise.resolve(show(V.locationCard(location))); }
    // A freezer or rack: read down to its boxes' positions, so each bag held is named.
    var url = root.dataset.locationUrl.replace("LOCCODE", encodeURIComponent(location.code)) + "?depth=" + depth;
    return get(url).then(function (tree) { show(V.locationCard(tree)); }, function () { show(V.locationCard(location)); });
  }

  function locationWords(location) {
    if (location.kind === "position") {
      return location.name + (location.bag ? " holds bag " + location.bag : " is empty");
    }
    return location.name + " (" + location.kind + ")";
  }

  /* Single scans: whatever was read is shown; nothing is changed and the mode stays. */
  function showFound(raw, found) {
    if (found.kind === "donation") {
      state.bag = null;
      showDonation(found.donation, raw);
      return say("ok", "Collection " + V.dinWords(found.donation.din) + " " + found.donation.check_character + " found.");
    }
    if (found.kind === "location") {
      state.bag = null;
      return showLocation(found.location).then(function () {
        say("ok", locationWords(found.location) + ": shown only, nothing changed.");
      });
    }
    if (found.kind === "shipment") {
      var s = found.shipment;
      state.bag = null;
      show(V.shipmentCard(s));
      return say("ok", "Shipment " + s.code + ": " + s.status.replace(/_/g, " ").toUpperCase() + ", to " +
        s.destination_site + ", " + s.bags + " bag(s). Shown only, nothing changed.");
    }
    showBag(found.bag, raw);
    say("ok", "Bag " + V.bagWords(found.bag) + ": " + found.bag.status.toUpperCase() + ".");
  }

  /* ---- modes: what the next scan will do, in large words ---- */

  function prompt() {
    var words = nextScan();
    $("mode-title").textContent = words[0];
    $("scan-prompt").textContent = words[1];
    root.dataset.mode = state.pending ? "pending" : state.mode;
    $("cancel").hidden = !state.pending && !state.target;
    document.querySelectorAll(".mode").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.mode === state.mode));
    });
  }

  function nextScan() {
    var p = state.pending, t = state.target;
    if (p && p.needs === "location") {
      return ["Scan the position", "Scan the position (LOC-…) to " + p.action + " bag " + V.bagWords(p.bag) + " into"];
    }
    if (p && p.needs === "shipment") {
      return ["Scan the shipment", "Scan the shipment (SHP-…) to " + p.action + " bag " + V.bagWords(p.bag)];
    }
    if (state.mode === "box") {
      var free = t && nextFree();
      if (!t) { return ["Store into box: scan the box", "Scan the box (LOC-…) the bags go into"]; }
      if (!free) { return [t.location.name + " is full", t.location.name + " is full: scan another box"]; }
      return ["Next bag → stored in " + free.name, "Scan a bag to store it in " + free.name + " of " +
        t.location.name + " (a bag in storage now is moved there)"];
    }
    if (state.mode === "retrieve") { return ["Next bag → retrieved", "Scan a bag: it is taken out of storage"]; }
    if (state.mode === "pack" || state.mode === "receive") {
      var packing = state.mode === "pack";
      if (!t) {
        return [(packing ? "Pack" : "Receive") + ": scan the shipment",
          "Scan the shipment (SHP-…) the bags " + (packing ? "go into" : "arrived in")];
      }
      return ["Next bag → " + (packing ? "packed into " : "received from ") + t.shipment.code,
        "Scan a bag to " + t.action + " it: shipment " + t.shipment.code + " to " + t.shipment.destination_site];
    }
    if (state.mode === "discard") {
      if (!state.reason) { return ["Discard: type the reason", "Type the reason once; then each bag scanned is discarded"]; }
      return ["Next bag → discarded", "Scan a bag to discard it. Reason: " + state.reason];
    }
    return ["Look up", "Scan a bag, a collection, a location or a shipment: it is shown, nothing changes"];
  }

  function setMode(mode) {
    state.mode = mode; state.target = null; state.pending = null; state.reason = "";
    hideReason();
    V.target($("target"), null);
    if (mode === "discard") { askReason(); }
    prompt();
    focusScan();
  }

  function command(name) {
    var mode = COMMANDS[name];
    if (!mode) { return refuse("The station has no command '" + name + "'."); }
    setMode(mode);
    say("mode", mode === "single" ? "Done: single scans, each scan is only looked up." :
      "Mode: " + MODE_NAMES[mode].toUpperCase() + ". " + nextScan()[1] + ".");
  }

  function nextFree() { return state.target.slots.filter(function (s) { return !s.bag; })[0] || null; }

  function setBox(location) {
    var slots = location.kind === "position" ? [location] : (location.children || []).filter(function (c) { return c.kind === "position"; });
    if (!slots.length) { return refuse(location.name + " (" + location.code + ") is a " + location.kind + ": scan a box or a position to store into."); }
    state.target = { kind: "box", location: location, slots: slots };
    V.target($("target"), state.target);
    if (!nextFree()) { return refuse(location.name + " has no empty position: scan another box."); }
    say("ok", "Storing into " + location.name + ": scan the bags.");
  }

  function setShipment(shipment) {
    var mode = state.mode;
    show(V.shipmentCard(shipment));
    // The server says why this mode's scans would be refused (the rule the scans obey).
    var refusal = (shipment.refusals || {})[mode];
    if (refusal) { return refuse(refusal); }
    state.target = { kind: "shipment", shipment: shipment, action: mode };
    V.target($("target"), state.target);
    say("ok", (mode === "pack" ? "Packing into " : "Receiving from ") + shipment.code + ": scan the bags.");
  }

  /* A mode other than single: a target (box, shipment) or a bag to act on; nothing else. */
  function inMode(raw, found) {
    var mode = state.mode, t = state.target;
    if (found.kind === "location" && mode === "box") { return setBox(found.location); }
    if (found.kind === "shipment" && (mode === "pack" || mode === "receive")) { return setShipment(found.shipment); }
    if (found.kind !== "bag") {
      var expected = mode === "box" ? "the box (LOC-…) or a bag" : (mode === "pack" || mode === "receive") ? "the shipment (SHP-…) or a bag" : "a bag";
      return refuse("That is " + KIND_WORDS[found.kind] + ": in " + MODE_NAMES[mode] + " the station takes " + expected +
        ". Nothing was done. Scan Done (CMD-DONE) or tap Single scans to look it up.");
    }
    var bag = found.bag;
    showBag(bag, raw);
    var request = { action: mode, bag: bag, raw: raw };
    if (mode === "discard") {
      if (!state.reason) { askReason(); return refuse("Type the reason first: bag " + V.bagWords(bag) + " was not discarded."); }
      request.reason = state.reason;
    } else if (mode === "box") {
      if (!t) { return refuse("Scan the box (LOC-…) first, then the bags."); }
      var here = t.slots.filter(function (s) { return s.code === bag.storage_position; })[0];
      // A second read of the same bag must not move it on to the next position.
      if (here) { return refuse("Bag " + V.bagWords(bag) + " is already in " + here.name + " of this box."); }
      var slot = nextFree();
      if (!slot) { return refuse(t.location.name + " is full: scan another box."); }
      // A bag already in storage is moved; the server refuses anything else with its reason.
      request.action = bag.allowed_actions.indexOf("move") >= 0 ? "move" : "store";
      request.location = slot.code;
      request.slot = slot;
    } else if (mode === "pack" || mode === "receive") {
      if (!t) { return refuse("Scan the shipment (SHP-…) first, then the bags."); }
      request.shipment = t.shipment.code;
    }
    return send(request);
  }

  /* ---- scans ---- */

  function enqueue(task) {
    // Reads are handled one after another, in the order they were made.
    queue = queue.then(task).catch(function (error) { refuse(error.message); }).then(function () {
      prompt(); focusScan();
    });
    return queue;
  }

  function onRead(raw) {
    state.held = null;
    showCollectionButton();
    echo(raw);
    enqueue(function () {
      return lookup(raw).then(function (found) { return handle(raw, found); }, function (error) { refuse(error.message); });
    });
  }

  function handle(raw, found) {
    if (found.kind === "command") { return command(found.command); }
    if (state.pending && state.pending.needs) { return finish(state.pending, raw, found); }
    if (state.mode === "single") { return showFound(raw, found); }
    return inMode(raw, found);
  }

  function onHeld(held) {
    state.held = held;
    echo(held.din && held.product ? "DIN and product code" : held.din ? "DIN " + V.dinWords(held.din.slice(1, 14)) : "Product code " + (held.product || "").slice(2));
    root.dataset.sound = "half";
    V.sound("half");
    showCollectionButton();
  }

  function onDropped() {
    // The pairing status says why, in large type, until the next read: here only the sound.
    state.held = null;
    showCollectionButton();
    root.dataset.sound = "error";
    V.sound("error");
  }

  /* A DIN alone, on purpose: a collection's label has no product code. Only looked up. */
  function showCollectionButton() {
    var held = state.held;
    $("collection").hidden = !(held && held.din && !held.product && state.mode === "single" && !state.pending);
  }

  function lookUpCollection() {
    var held = state.held;
    if (!held || !held.din) { return; }
    field.reset();
    state.held = null;
    showCollectionButton();
    echo(held.din);
    enqueue(function () {
      return lookup(held.din).then(function (found) { return showFound(held.din, found); }, function (error) { refuse(error.message); });
    });
  }

  /* ---- an action chosen on the bag card (single scans) ---- */

  function choose(action) {
    if (!state.bag) { return; }
    state.pending = { action: action, bag: state.bag, raw: state.bagRaw };
    if (NEEDS_REASON.indexOf(action) >= 0) { return askReason(); }
    next();
  }

  function next() {
    var p = state.pending;
    hideReason();
    if (NEEDS_LOCATION.indexOf(p.action) >= 0) { p.needs = "location"; }
    else if (NEEDS_SHIPMENT.indexOf(p.action) >= 0) { p.needs = "shipment"; }
    if (p.needs) { prompt(); focusScan(); return; }
    enqueue(function () { return send(p); });
  }

  function finish(p, raw, found) {
    var wanted = p.needs === "location" ? "location" : "shipment";
    if (found.kind !== wanted) {
      return refuse("That is " + KIND_WORDS[found.kind] + ", not " + KIND_WORDS[wanted] + ". " + nextScan()[1] + ", or Cancel.");
    }
    p[p.needs] = raw;
    return send(p);
  }

  function send(p) {
    state.pending = null;
    var body = { action: p.action, bag: p.raw, expected_version: p.bag.version, station: stationName() };
    ["location", "shipment", "reason"].forEach(function (key) { if (p[key]) { body[key] = p[key]; } });
    return post(root.dataset.scanUrl, body).then(function (event) {
      if (p.slot) { p.slot.bag = p.bag.code; }
      if (state.target && state.target.kind === "shipment" && p.action === "pack") { state.target.shipment.bags += 1; }
      V.target($("target"), state.target);
      var where = event.location_path || (event.shipment ? "shipment " + event.shipment : "");
      say("ok", (V.done[event.action] || event.action) + ": " + V.bagWords(p.bag) + " · " +
        String(event.from_status || "").toUpperCase() + " → " + String(event.to_status).toUpperCase() +
        (where ? " · " + where : ""));
      refreshLog();
      return lookup(p.bag.code).then(function (found) { showBag(found.bag, p.bag.code); }, function () {});
    }, function (error) { refuse(error.message); });
  }

  /* ---- the reason: asked once for discard mode, or for one bag's action ---- */

  function askReason() {
    var p = state.pending;
    $("reason-label").textContent = p ? "Reason to " + p.action + " bag " + V.bagWords(p.bag)
      : "Reason to discard the bags scanned next (asked once)";
    $("reason-box").hidden = false;
    $("reason-input").value = "";
    $("reason-input").focus();
  }

  function hideReason() {
    $("reason-box").hidden = true;
    if (document.activeElement === $("reason-input")) { $("reason-input").blur(); }
  }

  function confirmReason() {
    var reason = $("reason-input").value.trim();
    $("reason-input").value = "";
    if (/^CMD-/i.test(reason)) { hideReason(); return field.read(reason); }
    if (/^(=|&|LOC-|SHP-)/i.test(reason)) {
      say("error", "That was a scan, not a reason: type the reason first. Nothing was done.");
      return $("reason-input").focus();
    }
    if (!reason) { say("error", "Type the reason: it goes into the custody record."); return $("reason-input").focus(); }
    if (state.pending) { state.pending.reason = reason; return next(); }
    state.reason = reason;
    hideReason();
    prompt();
    say("mode", "Discarding: each bag scanned next is discarded. Reason: " + reason);
    focusScan();
  }

  function cancel() {
    var askingForDiscard = !$("reason-box").hidden && !state.pending && state.mode === "discard";
    if (state.pending) { state.pending = null; }
    else if (askingForDiscard) { return setMode("single"); }
    else if (state.target) { state.target = null; V.target($("target"), null); }
    hideReason();
    prompt();
    input.focus();
  }

  /* ---- focus: the scan field always has it, except while a person types a reason or form ---- */

  function typingElsewhere() {
    var active = document.activeElement;
    return active && active !== input && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  function focusScan() { if (!typingElsewhere()) { input.focus(); } }

  function init() {
    var name = $("station-name");
    name.value = localStorage.getItem(STATION_KEY) || DEFAULT_STATION;
    name.addEventListener("change", function () {
      if (!name.value.trim()) { name.value = DEFAULT_STATION; }
      localStorage.setItem(STATION_KEY, name.value.trim());
      refreshLog();
    });
    name.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); name.blur(); input.focus(); } });

    field = window.custodyScanField(input, {
      onRead: onRead, onHeld: onHeld, onDropped: onDropped, status: $("pair-status"),
      pairSeconds: Number(root.dataset.pairSeconds) || 20, suffix: root.dataset.scanSuffix || ""
    });
    window.custodyCamera($("camera"), {
      decodeUrl: root.dataset.decodeUrl, view: $("camera-view"), status: $("camera-status"),
      onRead: function (text) { field.read(text); }
    });
    $("scan-form").addEventListener("submit", function (event) { event.preventDefault(); });
    input.addEventListener("blur", function () { setTimeout(focusScan, 0); });
    document.addEventListener("click", function () { setTimeout(focusScan, 0); });
    window.addEventListener("focus", function () { focusScan(); refreshLog(); });
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") { cancel(); } });
    document.querySelectorAll(".mode").forEach(function (button) {
      button.addEventListener("click", function () {
        field.reset();
        state.held = null;
        showCollectionButton();
        setMode(button.dataset.mode);
        say("mode", "Mode: " + MODE_NAMES[state.mode].toUpperCase() + ". " + nextScan()[1] + ".");
      });
    });
    $("collection").addEventListener("click", lookUpCollection);
    $("cancel").addEventListener("click", cancel);
    $("reason-ok").addEventListener("click", confirmReason);
    $("reason-input").addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); confirmReason(); }
    });
    $("reason-cancel").addEventListener("click", cancel);

    prompt();
    input.focus();
    refreshLog();
    if (input.dataset.prefill) { onRead(input.dataset.prefill); }
  }

  init();
})();
