/* Scanning with the tablet's camera, for a ward or bench without a hand scanner.
 *
 * Where the browser reads barcodes itself (BarcodeDetector), it does; elsewhere (Chromium on
 * Linux has none) a frame is sent to the server every half second, which reads it with a
 * well-kept decoder and answers what a hand scanner would have typed. Each new text goes to
 * the page's scan field, so what follows is the same as for a scanner. A label's Data Matrix
 * says everything at once: when one is in view, the linear symbols beside it are not read.
 *
 * Usage: var camera = custodyCamera(button, {decodeUrl, onRead, view}); camera.stop(). */
(function () {
  "use strict";

  var EVERY_MS = 500;
  var SAME_READ_MS = 3000;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function byKind(a, b) {
    // The 2-D code first; then the DIN before its product code (=, then =<), then the rest.
    function rank(r) { return r.format === "DataMatrix" ? 0 : r.text.indexOf("=<") === 0 ? 2 : r.text.indexOf("=,") === 0 ? 3 : 1; }
    return rank(a) - rank(b);
  }

  function fromServer(url, blob) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": blob.type || "image/jpeg", "Accept": "application/json", "X-CSRFToken": csrf },
      body: blob
    }).then(function (response) {
      return response.ok ? response.json().then(function (data) { return data.items || []; }) : [];
    }, function () { return []; });
  }

  window.custodyCamera = function (button, options) {
    var view = options.view, video = null, stream = null, timer = null, busy = false;
    var canvas = document.createElement("canvas"), seen = {}, detector = null;
    if ("BarcodeDetector" in window) {
      try { detector = new window.BarcodeDetector({ formats: ["code_128", "data_matrix"] }); } catch (ignored) { detector = null; }
    }

    function say(text) { if (options.status) { options.status.textContent = text || ""; } }

    function fresh(text) {
      var now = Date.now(), last = seen[text];
      seen[text] = now;
      return !last || now - last > SAME_READ_MS;
    }

    function hand(results) {
      results.sort(byKind);
      var matrix = results.filter(function (r) { return r.format === "DataMatrix"; });
      (matrix.length ? matrix.slice(0, 1) : results).forEach(function (r) {
        if (r.text && fresh(r.text)) { options.onRead(r.text); }
      });
    }

    function frame() {
      if (busy || !video || video.readyState < 2) { return; }
      busy = true;
      var done = function () { busy = false; };
      if (detector) {
        detector.detect(video).then(function (found) {
          hand(found.map(function (f) { return { format: f.format === "data_matrix" ? "DataMatrix" : "Code128", text: f.rawValue }; }));
        }).then(done, done);
        return;
      }
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      canvas.toBlob(function (blob) {
        if (!blob) { return done(); }
        fromServer(options.decodeUrl, blob).then(hand).then(done, done);
      }, "image/jpeg", 0.9);
    }

    function start() {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        return say("This browser gives no access to a camera here: use a hand scanner, or type the label.");
      }
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment", width: { ideal: 1280 } }, audio: false }).then(function (s) {
        stream = s;
        video = document.createElement("video");
        video.setAttribute("playsinline", "");
        video.muted = true;
        video.srcObject = s;
        video.dataset.testid = "camera-view";
        view.textContent = "";
        view.appendChild(video);
        view.hidden = false;
        video.play();
        button.setAttribute("aria-pressed", "true");
        button.textContent = "Stop camera";
        say("Hold the barcode in front of the camera.");
        timer = setInterval(frame, EVERY_MS);
      }, function () {
        say("The camera could not be opened (permission refused, or none here): use a hand scanner, or type the label.");
      });
    }

    function stop() {
      if (timer) { clearInterval(timer); timer = null; }
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
      video = null;
      view.textContent = "";
      view.hidden = true;
      button.setAttribute("aria-pressed", "false");
      button.textContent = button.dataset.label;
      say("");
    }

    button.dataset.label = button.textContent;
    button.addEventListener("click", function () { if (stream) { stop(); } else { start(); } });
    return { stop: stop, running: function () { return !!stream; } };
  };
})();
