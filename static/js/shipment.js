/* A shipment's page at work: packing by scanning in the lab, the signed courier handoff, the
 * logger file, scanning in at the site, discrepancies and their resolution, the receipt.
 *
 * Every rule is the server's. Scans go to the scan API as a scanner reads them (keyboard wedge,
 * through scan_input.js); after each scan or write the part of the page they change is fetched
 * again from the server (/shipments/<code>/live) and swapped in, keeping what a person typed.
 * A write that changes the shipment's status reloads the whole page. Refusals are shown in the
 * API's own words. Scans the manifest does not know are listed as unexpected until recorded. */
(function () {
  "use strict";

  var work = document.getElementById("shipment-work");
  if (!work) { return; }
  var $ = function (id) { return document.getElementById(id); };
  var code = work.dataset.code;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var queue = Promise.resolve();
  var unexpectedKey = "custody.unexpected." + code;

  function post(url, body) { return window.custodyApi.post(url, body, "try again"); }

  /* ---- the live part ---- */

  function refresh() {
    return fetch(work.dataset.liveUrl, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(function (response) {
      if (!response.ok) { throw new Error("The page could not be brought up to date (" + response.status + "): reload it."); }
      return response.text();
    }).then(swap);
  }

  function swap(html) {
    var live = $("shipment-live"), kept = {};
    live.querySelectorAll("input, textarea").forEach(function (el) { if (el.id) { kept[el.id] = el.value; } });
    var focused = document.activeElement && live.contains(document.activeElement) ? document.activeElement.id : null;
    live.innerHTML = html;
    var content = $("shipment-live-content");
    if (content && content.dataset.status !== work.dataset.status) { window.location.reload(); return; }
    Object.keys(kept).forEach(function (id) { if ($(id)) { $(id).value = kept[id]; } });
    if (focused && $(focused)) { $(focused).focus(); }
  }

  /* ---- scanning bags in or out ---- */

  function say(kind, message) {
    var ok = $("scan-ok"), bad = $("scan-error");
    if (!ok) { return; }
    ok.textContent = kind === "ok" ? message : "";
    bad.textContent = kind === "ok" ? "" : message;
  }

  /* Each read is looked up first (what it names), then scanned with the action: the page
   * echoes the bag by its code, and a read that names no bag is never sent as one. */
  function onScan(action, raw) {
    queue = queue.then(function () {
      return post(work.dataset.lookupUrl, { data: raw }).then(function (found) {
        if (found.kind !== "bag") {
          throw Object.assign(new Error("That is a " + found.kind + ", not a bag: scan the bag's label. Nothing was done."), { details: {} });
        }
        if (action === "receive" && manifest().indexOf(found.bag.code) < 0) {
          throw Object.assign(new Error("Bag " + found.bag.code + " is not on the manifest of " + code +
            ": set it apart, and record it as unexpected. Nothing was received."), { details: { reason: "not_on_manifest" } });
        }
        var body = { action: action, bag: raw, shipment: code, expected_version: found.bag.version, station: "Shipment page " + code };
        return post(work.dataset.scanUrl, body).then(function (event) {
          say("ok", (action === "pack" ? "Packed: " : "Scanned in: ") + found.bag.code + " · " +
            String(event.from_status || "").toUpperCase() + " → " + String(event.to_status).toUpperCase());
          return refresh();
        });
      }).catch(function (failure) {
        say("error", failure.message);
        if (action === "receive" && isUnexpected(failure)) { addUnexpected(raw, failure.message); }
      });
    });
  }

  function manifest() {
    return Array.prototype.map.call(document.querySelectorAll('[data-testid="manifest-line"]'), function (row) { return row.dataset.bag; });
  }

  /* Not on this manifest, or naming no bag here at all: set apart as unexpected. */
  function isUnexpected(failure) {
    var details = failure.details || {};
    return details.reason === "not_on_manifest" || failure.status === 404 || failure.code === "invalid_barcode";
  }

  /* ---- unexpected scans: kept in this tab until recorded or dismissed ---- */

  function unexpected() {
    try { return JSON.parse(sessionStorage.getItem(unexpectedKey)) || []; } catch (e) { return []; }
  }

  function keepUnexpected(list) {
    sessionStorage.setItem(unexpectedKey, JSON.stringify(list));
    drawUnexpected();
  }

  function addUnexpected(raw, why) {
    var list = unexpected().filter(function (item) { return item.raw !== raw; });
    list.push({ raw: raw, why: why });
    keepUnexpected(list);
  }

  function dropUnexpected(raw) {
    keepUnexpected(unexpected().filter(function (item) { return item.raw !== raw; }));
  }

  function drawUnexpected() {
    var box = $("unexpected");
    if (!box) { return; }
    var list = unexpected(), ul = $("unexpected-list");
    ul.textContent = "";
    list.forEach(function (item) {
      var li = document.createElement("li");
      li.dataset.testid = "unexpected-scan";
      var what = document.createElement("span");
      what.className = "code";
      what.textContent = item.raw;
      var why = document.createElement("small");
      why.textContent = " " + item.why + " ";
      li.appendChild(what);
      li.appendChild(why);
      if (work.dataset.canRecord !== "no") { li.appendChild(button("Record as unexpected…", "record-unexpected", item.raw)); }
      li.appendChild(button("Dismiss (misread)", "dismiss-unexpected", item.raw));
      ul.appendChild(li);
    });
    box.hidden = !list.length;
  }

  function button(words, act, raw) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = words;
    b.dataset.act = act;
    b.dataset.raw = raw;
    return b;
  }

  /* ---- the note dialog: a reason, a note, or a resolution ---- */

  var dialog = $("note-dialog"), noteForm = $("note-form"), pending = null;

  function ask(options) {
    pending = options;
    $("note-title").textContent = options.title;
    $("note-label").textContent = options.label;
    $("note-text").value = "";
    $("note-ok").textContent = options.ok;
    noteForm.querySelector(".form-error").textContent = "";
    var select = $("note-outcome");
    select.textContent = "";
    $("outcome-box").hidden = !options.outcomes;
    if (options.outcomes) {
      Array.prototype.forEach.call(options.outcomes.content.querySelectorAll("option"), function (o) { select.appendChild(o.cloneNode(true)); });
      var first = select.querySelector("option:not([disabled])");
      if (first) { select.value = first.value; }
    }
    var hint = $("outcome-hint");
    hint.textContent = "";
    Array.prototype.forEach.call(select.querySelectorAll("option[data-blocked]"), function (o) {
      var li = document.createElement("li");
      li.textContent = o.dataset.blocked;
      hint.appendChild(li);
    });
    dialog.showModal();
    (options.outcomes ? select : $("note-text")).focus();
  }

  noteForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = $("note-text").value.trim(), error = noteForm.querySelector(".form-error");
    if (!text) { error.textContent = pending.required; $("note-text").focus(); return; }
    var okButton = $("note-ok");
    okButton.disabled = true;
    pending.send(text, $("note-outcome").value).then(function () {
      dialog.close();
      return refresh();
    }, function (failure) {
      error.textContent = failure.message;
    }).then(function () { okButton.disabled = false; focusScan(); });
  });
  $("note-cancel").addEventListener("click", function () { dialog.close(); focusScan(); });

  /* ---- the buttons of the live part and the unexpected list ---- */

  var api = work.dataset.apiUrl;
  var acts = {
    "unpack": function (el) {
      ask({ title: "Unpack bag " + el.dataset.bag, label: "Reason (goes into the custody record)", ok: "Unpack",
        required: "Give the reason to take the bag out: it goes into the custody record.",
        send: function (text) { return post(work.dataset.scanUrl, { action: "unpack", bag: el.dataset.bag, shipment: code, reason: text }); } });
    },
    "record-missing": function (el) {
      ask({ title: "Record bag " + el.dataset.bag + " missing", label: "Note: what was found, and what was done", ok: "Record missing",
        required: "Write a note: what was found, and what was done.",
        send: function (text) { return post(api + "/discrepancies", { kind: "missing", bag: el.dataset.bag, note: text }); } });
    },
    "record-unexpected": function (el) {
      var raw = el.dataset.raw;
      ask({ title: "Record an unexpected bag: " + raw, label: "Note: what was found, and what was done with it", ok: "Record unexpected",
        required: "Write a note: what was found, and what was done with it.",
        send: function (text) {
          return post(api + "/discrepancies", { kind: "unexpected", bag: raw, note: text }).then(function (saved) { dropUnexpected(raw); return saved; });
        } });
    },
    "dismiss-unexpected": function (el) { dropUnexpected(el.dataset.raw); focusScan(); },
    "resolve": function (el) {
      var number = el.dataset.number;
      ask({ title: "Resolve discrepancy " + number + " (" + el.dataset.label + ")", label: "Why: what was found or done, and on whose word", ok: "Record resolution",
        required: "Say why: a resolution needs its reason.",
        outcomes: document.querySelector('template[data-outcomes="' + number + '"]'),
        send: function (text, outcome) { return post(api + "/discrepancies/" + number + "/resolution", { outcome: outcome, reason: text }); } });
    },
    "complete-receipt": function (el) {
      el.disabled = true;
      post(api + "/receipt", {}).then(function () { window.location.reload(); }, function (failure) {
        say("error", failure.message);
        el.disabled = false;
        refresh();
      });
    }
  };

  work.addEventListener("click", function (event) {
    var el = event.target.closest("button[data-act]");
    if (el && acts[el.dataset.act]) { acts[el.dataset.act](el); }
  });

  /* ---- the signed courier handoff ---- */

  work.addEventListener("submit", function (event) {
    if (event.target.id !== "dispatch-form") { return; }
    event.preventDefault();
    var form = event.target, error = form.querySelector(".form-error"), submit = form.querySelector('button[type="submit"]');
    var body = { courier_person: form.elements.courier_person.value.trim(), username: form.elements.username.value.trim(), password: form.elements.password.value };
    var courier = form.elements.courier.value.trim(), condition = form.elements.condition.value.trim(), temperature = form.elements.temperature_c.value.trim();
    if (courier) { body.courier = courier; }
    if (condition) { body.condition = condition; }
    if (temperature !== "") { body.temperature_c = Number(temperature); }
    error.textContent = "";
    if (!body.courier_person) { error.textContent = "Name the courier's person who takes the shipper."; form.elements.courier_person.focus(); return; }
    if (!body.username || !body.password) { error.textContent = "Sign with your own user ID and password."; return; }
    submit.disabled = true;
    post(api + "/dispatch", body).then(function () { window.location.reload(); }, function (failure) {
      error.textContent = failure.message;
      form.elements.password.value = "";
      submit.disabled = false;
      form.elements.password.focus();
    });
  });

  /* ---- the logger file: read here, sent as the CSV it is ---- */

  var logger = $("logger-form");
  if (logger) {
    logger.addEventListener("submit", function (event) {
      event.preventDefault();
      var error = logger.querySelector(".form-error"), submit = logger.querySelector('button[type="submit"]');
      var file = logger.elements.file.files[0];
      error.textContent = "";
      if (!file) { error.textContent = "Choose the logger's CSV file first."; return; }
      submit.disabled = true;
      file.text().then(function (text) {
        return fetch(logger.dataset.url, {
          method: "POST", credentials: "same-origin", body: text,
          headers: { "Content-Type": "text/csv", "Accept": "application/json", "X-CSRFToken": csrf }
        }).catch(function () { throw new Error("The server could not be reached. Nothing was stored: try again."); });
      }).then(function (response) {
        if (response.ok) { window.location.reload(); return; }
        return response.json().catch(function () { return {}; }).then(function (data) {
          var message = (data.error && data.error.message) || "The server answered " + response.status + ".";
          throw new Error("The logger file was refused, nothing was stored: " + message);
        });
      }).catch(function (problem) {
        error.textContent = problem.message;
        submit.disabled = false;
      });
    });
  }

  /* ---- the scan field keeps focus, except while a person types elsewhere ---- */

  var input = $("shipment-scan");

  function focusScan() {
    var active = document.activeElement;
    var typing = active && active !== input && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
    if (input && !typing && !dialog.open) { input.focus(); }
  }

  if (input) {
    var form = $("scan-form");
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    window.custodyScanField(input, {
      onRead: function (raw) { onScan(form.dataset.action, raw); },
      status: $("pair-status"),
      pairSeconds: Number(work.dataset.pairSeconds) || 20,
      suffix: work.dataset.scanSuffix || ""
    });
    drawUnexpected();
    input.focus();
  }
})();
