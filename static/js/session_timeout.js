/* The idle timeout, said on the page before it happens (21 CFR 11.10(d)): shared bench and
 * bedside devices are signed out after CUSTODY_SESSION_IDLE_MINUTES without a request. A
 * minute before, a banner counts down with "Stay signed in"; at the end the page goes to the
 * sign-in page, which says why. The server decides: it may end the session up to a minute
 * before the last request plus the timeout (it notes activity once a minute), so the page
 * counts that minute off. Every request the page makes counts as activity. */
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="session-idle-seconds"]');
  if (!meta) { return; }
  var idle = Number(meta.content), WARN = 60, SLACK = 60;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var banner = document.getElementById("session-warning"), words = document.getElementById("session-warning-words");
  var deadline = 0, timer = null;

  function restart() {
    deadline = Date.now() + (idle - SLACK) * 1000;
    banner.hidden = true;
  }

  // The page and the server agree: the session is ended there too, then the sign-in page.
  function signIn() {
    var here = window.location.pathname + window.location.search;
    var go = function () { window.location.assign("/login?expired=1&next=" + encodeURIComponent(here)); };
    fetchOriginal(meta.dataset.logoutUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf } }).then(go, go);
  }

  function tick() {
    var left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) { clearInterval(timer); return signIn(); }
    if (left <= WARN) {
      words.textContent = "Nothing has been done here for a while: you will be signed out in " + left + " s.";
      banner.hidden = false;
    }
  }

  // Any answer from the server means the session was used: count again from now.
  var fetchOriginal = window.fetch.bind(window);
  window.fetch = function () {
    return fetchOriginal.apply(null, arguments).then(function (response) {
      if (response.status !== 401) { restart(); }
      return response;
    });
  };

  document.getElementById("session-stay").addEventListener("click", function () {
    fetchOriginal(meta.dataset.aliveUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf } }).then(function (response) {
      if (response.ok) { restart(); } else { signIn(); }
    }, function () {
      words.textContent = "The server could not be reached: check the network.";
    });
  });

  restart();
  timer = setInterval(tick, 1000);
})();
