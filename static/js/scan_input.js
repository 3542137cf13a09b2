/* One scan field for keyboard-wedge scanners and the camera: when a read ends, and how two
 * linear barcodes read one at a time become one read.
 *
 * A read ends with Enter, Tab or the site's scanner suffix (CUSTODY_SCAN_SUFFIX). ISBT 128
 * labels carry the DIN and the product code as two Code 128 symbols, and many hand scanners
 * read one at a time: a DIN read alone waits for its product code (and the divisions barcode
 * when the product code ends in 99), in either order, for a few seconds shown as a countdown;
 * the halves count as one read (ST-001 concatenation) only when nothing else was read between
 * them. What the pair names, and every rule after it, is the server's: this only joins reads.
 *
 * Usage: var field = custodyScanField(input, {onRead, status, pairSeconds, suffix});
 * onRead(data) gets each complete read; field.read(text) feeds a read from elsewhere (the
 * camera); field.reset() forgets a half-read pair. Optional: onHeld(held) hears each half
 * kept waiting ({din, product, divisions}: the reads held so far), onDropped(message) the
 * halves given up (timeout, or another read between them), so a page can echo and sound them. */
(function () {
  "use strict";

  // =αppppyynnnnnnff, =<αooootds, =,dddddd (ISBT 128 ST-001 data identifiers).
  var DIN = /^=[A-NP-Z1-9][A-Z0-9]{12}[A-Z0-9*]{2}$/;
  var PRODUCT = /^=<[A-Z][A-Z0-9]{4}[A-Z0-9][A-Z0-9][A-Za-z0-9]$/;
  var DIVISIONS = /^=,[A-Za-z0-9]{6}$/;

  function part(read) {
    if (DIN.test(read)) { return "din"; }
    if (PRODUCT.test(read)) { return "product"; }
    if (DIVISIONS.test(read)) { return "divisions"; }
    return null;
  }

  function needsDivisions(product) { return product.slice(-2) === "99"; }

  function missing(held) {
    if (!held.din) { return "the DIN"; }
    if (!held.product) { return "the product code"; }
    return "the divisions barcode (=,)";
  }

  function complete(held) {
    return held.din && held.product && (!needsDivisions(held.product) || held.divisions);
  }

  function heldWords(held) {
    if (held.din && !held.product) { return "DIN " + held.din.slice(1, 6) + " " + held.din.slice(6, 8) + " " + held.din.slice(8, 14) + " read"; }
    if (held.product && !held.din) { return "Product code " + held.product.slice(2) + " read"; }
    return "DIN and product code read";
  }

  window.custodyScanField = function (input, options) {
    var pairSeconds = options.pairSeconds || 20;
    var suffix = options.suffix || "";
    var status = options.status;
    var held = null, deadline = null, tick = null;

    function show(text, level) {
      if (!status) { return; }
      status.textContent = text || "";
      status.hidden = !text;
      status.dataset.level = level || "";
    }

    function stopClock() { if (tick) { clearInterval(tick); tick = null; } }

    function forget(why) {
      var dropped = held && why;
      held = null; deadline = null;
      stopClock();
      show(why || "", why ? "warning" : "");
      if (dropped && options.onDropped) { options.onDropped(why); }
    }

    function waitFor() {
      var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      if (!left) {
        return forget("No " + missing(held).replace(/^the /, "") + " was scanned within " + pairSeconds +
          " s: scan the DIN and the product code again.");
      }
      show(heldWords(held) + " — now scan " + missing(held) + " (" + left + " s)", "waiting");
    }

    function hold(kind, read) {
      held = held || {};
      held[kind] = read;
      if (complete(held)) {
        var data = held.din + held.product + (held.divisions || "");
        forget();
        return options.onRead(data);
      }
      deadline = Date.now() + pairSeconds * 1000;
      stopClock();
      tick = setInterval(waitFor, 250);
      waitFor();
      if (options.onHeld) { options.onHeld(Object.assign({}, held)); }
    }

    function read(raw) {
      var text = String(raw || "").trim();
      if (suffix && text.slice(-suffix.length) === suffix) { text = text.slice(0, -suffix.length).trim(); }
      if (!text) { return; }
      // A warning about earlier halves is stale once something else is read.
      if (!held) { show(""); }
      var kind = part(text);
      if (kind && !(held && held[kind])) { return hold(kind, text); }
      if (held) {
        // Another read came between the halves: they are not one label's pair.
        forget("The " + heldWords(held).replace(/ read$/, "") + " was not followed by " + missing(held) +
          ": scan the DIN and the product code again.");
      }
      if (kind) { return hold(kind, text); }
      options.onRead(text);
    }

    function end(event) {
      event.preventDefault();
      var raw = input.value;
      input.value = "";
      read(raw);
    }

    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || (event.key === "Tab" && input.value.trim())) { end(event); }
    });
    if (suffix) {
      input.addEventListener("input", function (event) {
        if (input.value.slice(-suffix.length) === suffix) { end(event); }
      });
    }
    return { read: read, reset: function () { forget(); }, waiting: function () { return !!held; } };
  };
})();
