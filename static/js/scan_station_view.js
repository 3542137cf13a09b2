/* What the scan station draws: the scanned bag, collection, location or shipment, the box or
 * shipment a mode works on, the day's log, and the sounds. Nothing here decides anything: the
 * station (scan_station.js) hands over what the server answered.
 *
 * window.custodyStationView = {el, dinWords, bagWords, bagCard, donationCard, locationCard,
 *   shipmentCard, target, logLine, sound}. */
(function () {
  "use strict";

  var DONE = {
    quarantine: "Quarantined", store: "Stored", move: "Moved", retrieve: "Retrieved",
    release: "Released", pack: "Packed", unpack: "Unpacked", receive: "Received",
    thaw_start: "Thaw started", thaw: "Thawed", "return": "Returned", reject: "Rejected",
    discard: "Discarded"
  };
  var audio = null;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function dinWords(din) { return din.slice(0, 5) + " " + din.slice(5, 7) + " " + din.slice(7); }

  function bagWords(bag) { return dinWords(bag.din) + " " + bag.check_character + " " + bag.product_code; }

  // A bag code as URLs carry it (DIN-product code), in the words printed on the label.
  function codeWords(code) {
    var parts = String(code).split("-");
    return parts.length === 2 && parts[0].length === 13 ? dinWords(parts[0]) + " · " + parts[1] : code;
  }

  // Children of a flex row, with a space between them for anyone reading the text (a flex row
  // draws no whitespace, so the gaps stay the stylesheet's).
  function row(node, children) {
    children.forEach(function (child, n) {
      if (n) { node.appendChild(document.createTextNode(" ")); }
      node.appendChild(child);
    });
    return node;
  }

  function identity(din, check, product) {
    var box = el("span", "k-box", check);
    box.title = "Keyboard check character";
    box.dataset.testid = "k-box";
    var parts = [el("span", "din", dinWords(din)), box];
    if (product) { parts.push(el("span", "product", product)); }
    return row(el("span", "identity"), parts);
  }

  function facts(pairs) {
    var list = el("dl", "facts");
    pairs.forEach(function (pair) {
      if (pair[1] === null || pair[1] === undefined || pair[1] === "") { return; }
      var row = el("div");
      row.appendChild(el("dt", null, pair[0]));
      var value = el("dd");
      if (typeof pair[1] === "string" || typeof pair[1] === "number") { value.textContent = String(pair[1]); } else { value.appendChild(pair[1]); }
      if (pair[2]) { value.dataset.testid = pair[2]; }
      row.appendChild(value);
      list.appendChild(row);
    });
    return list;
  }

  function words(value) { return String(value || "").replace(/_/g, " ").toUpperCase(); }

  function badge(kind, value) { return el("span", kind + " " + kind + "-" + value, words(value)); }

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

  /* The bag: its DIN with the boxed K and its division large, to hold against the label. */
  function bagCard(bag, options) {
    var card = el("article", "card scanned bag");
    card.dataset.testid = "scanned-bag";
    var title = el("h2", "scanned-title");
    title.dataset.testid = "bag-identity";
    var division = el("span", "division", "Division " + bag.division);
    division.dataset.testid = "bag-division";
    card.appendChild(row(title, [identity(bag.din, bag.check_character, bag.product_code), division]));
    if (bag.warnings && bag.warnings.length) { card.appendChild(warnings(bag.warnings, bag.donor_eligibility)); }
    var link = el("a", "history-link", "Bag page and custody history");
    link.href = options.bagUrl.replace("BAGCODE", encodeURIComponent(bag.code));
    card.appendChild(facts([
      ["State", badge("state", bag.status), "bag-state"],
      ["Location", bag.location, "bag-location"],
      ["Lot", bag.lot],
      ["Lot status", badge("disposition", bag.lot_status), "lot-status"],
      ["Recipient", bag.recipient],
      ["History", link]
    ]));
    if (options.actions) {
      var buttons = el("div", "actions");
      buttons.setAttribute("role", "group");
      buttons.setAttribute("aria-label", "Next actions");
      if (!options.actions.length) { buttons.appendChild(el("p", null, "No scan action is possible for this bag now.")); }
      options.actions.forEach(function (action) {
        var button = el("button", "action", action.charAt(0).toUpperCase() + action.slice(1).replace(/_/g, " "));
        button.type = "button";
        button.addEventListener("click", function () { options.onAction(action); });
        buttons.appendChild(button);
      });
      card.appendChild(buttons);
    }
    return card;
  }

  function donationCard(donation, onReceive) {
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
    if (!donation.received_at) { card.appendChild(receiptForm(onReceive)); }
    return card;
  }

  function receiptForm(onReceive) {
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
      onReceive(form.elements.condition.value, form.elements.temperature.value.trim());
    });
    return form;
  }

  /* A location and what it holds: its path, then each box's positions with their bags. */
  function locationCard(location) {
    var card = el("article", "card scanned location");
    card.dataset.testid = "scanned-location";
    card.appendChild(el("h2", "scanned-title", location.name + " (" + location.code + ")"));
    card.appendChild(el("p", "path", location.path));
    if (location.kind === "position") {
      card.appendChild(facts([["Holds", location.bag ? codeWords(location.bag) + " · " + words(location.bag_status) : "nothing: empty", "position-bag"]]));
      return card;
    }
    var boxes = [];
    (function collect(node, trail) {
      var children = node.children || [];
      var positions = children.filter(function (c) { return c.kind === "position"; });
      if (positions.length || node.kind === "box") { boxes.push({ node: node, trail: trail, positions: positions }); }
      children.forEach(function (c) { if (c.kind !== "position") { collect(c, trail.concat([c.name])); } });
    })(location, []);
    if (!boxes.length) { card.appendChild(el("p", null, "No positions below " + location.name + ".")); }
    boxes.forEach(function (box) {
      if (box.node !== location) { card.appendChild(el("h3", "box-name", box.trail.join(" › "))); }
      card.appendChild(positionGrid(box.positions));
    });
    return card;
  }

  function positionGrid(positions) {
    var grid = el("ol", "positions");
    positions.forEach(function (slot) {
      var cell = el("li", slot.bag ? "taken" : "free", slot.name);
      cell.appendChild(el("small", null, slot.bag ? codeWords(slot.bag) : "empty"));
      cell.dataset.position = slot.code;
      grid.appendChild(cell);
    });
    return grid;
  }

  function shipmentCard(shipment) {
    var card = el("article", "card scanned shipment");
    card.dataset.testid = "scanned-shipment";
    card.appendChild(el("h2", "scanned-title", "Shipment " + shipment.code));
    card.appendChild(facts([
      ["Status", badge("shipment", shipment.status), "shipment-status"],
      ["Destination", shipment.destination_site, "shipment-destination"],
      ["Courier", shipment.courier],
      ["Bags in it", shipment.bags, "shipment-bags"]
    ]));
    return card;
  }

  /* The box or shipment the current mode scans bags into or out of. */
  function target(box, t) {
    box.textContent = "";
    box.hidden = !t;
    if (!t) { return; }
    if (t.kind === "box") {
      box.appendChild(el("h2", null, "Storing into " + t.location.name));
      box.appendChild(el("p", "path", t.location.path));
      box.appendChild(positionGrid(t.slots));
      return;
    }
    box.appendChild(el("h2", null, (t.action === "pack" ? "Packing into " : "Receiving from ") + t.shipment.code));
    box.appendChild(el("p", "path", "To " + t.shipment.destination_site + " · " + t.shipment.bags + " bag(s) in it · " + words(t.shipment.status)));
  }

  function clock(iso, zone) {
    try {
      return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: zone || undefined }).format(new Date(iso));
    } catch (ignored) {
      return new Date(iso).toISOString().slice(11, 16) + " UTC";
    }
  }

  /* One line of the day's log, as the server recorded it. */
  function logLine(item, zone) {
    var line = el("li", "log-ok");
    line.dataset.action = item.action;
    var time = el("time", "log-time", clock(item.occurred_at, zone));
    time.setAttribute("datetime", item.occurred_at);
    var parts = [time, el("strong", "log-action", DONE[item.action] || item.action)];
    if (item.din) { parts.push(identity(item.din, item.check_character, item.product_code)); }
    parts.push(el("span", "log-states", words(item.from_status) + " → " + words(item.to_status)));
    if (item.shipment) { parts.push(el("span", "log-where", "shipment " + item.shipment)); }
    if (item.location_path) { parts.push(el("span", "log-where", item.location_path)); }
    parts.push(el("span", "log-who", item.actor));
    return row(line, parts);
  }

  /* OK: one high beep. Refused: two low buzzes. A half read: one short mid tone. A mode:
   * two rising tones. Each distinct without looking at the screen. */
  var TONES = {
    ok: ["sine", [[1320, 0, 0.15]]],
    error: ["square", [[140, 0, 0.2], [140, 0.28, 0.2]]],
    half: ["sine", [[880, 0, 0.08]]],
    mode: ["sine", [[660, 0, 0.1], [990, 0.14, 0.12]]]
  };

  function sound(kind) {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context || !TONES[kind]) { return; }
      audio = audio || new Context();
      if (audio.state === "suspended") { audio.resume(); }
      var now = audio.currentTime;
      TONES[kind][1].forEach(function (tone) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = TONES[kind][0];
        osc.frequency.value = tone[0];
        gain.gain.setValueAtTime(0.2, now + tone[1]);
        gain.gain.exponentialRampToValueAtTime(0.001, now + tone[1] + tone[2]);
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(now + tone[1]);
        osc.stop(now + tone[1] + tone[2] + 0.02);
      });
    } catch (ignored) { /* no sound device: the page still says it */ }
  }

  window.custodyStationView = {
    el: el, dinWords: dinWords, bagWords: bagWords, bagCard: bagCard, donationCard: donationCard,
    locationCard: locationCard, shipmentCard: shipmentCard, target: target, logLine: logLine,
    sound: sound, done: DONE
  };
})();
