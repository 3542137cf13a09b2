/* The server's clock and the site's zone, on a tablet whose own clock or zone may be wrong.
 *
 * The page carries the server's now (data-server-now, milliseconds since 1970 UTC) and the
 * site's IANA zone (data-site-zone). "Now" is the server's now plus the time this device has
 * measured since the page loaded: a duration, which a device with a wrong clock still measures
 * right. Wall times are the site's, worked out with Intl in the site's zone; the device's clock
 * and zone are never read. Loaded before the scripts that record or show a time. */
(function () {
  "use strict";

  var host = document.querySelector("[data-server-now][data-site-zone]");
  var serverNow = Number(host.dataset.serverNow), zone = host.dataset.siteZone;
  var loadedAt = performance.now();
  var parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit"
  });

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function now() { return serverNow + (performance.now() - loadedAt); }

  // The site's wall clock at an instant, as numbers: {year, month, day, hour, minute, second}.
  function wall(ms) {
    var found = {};
    parts.formatToParts(ms).forEach(function (p) { if (p.type !== "literal") { found[p.type] = Number(p.value); } });
    return found;
  }

  // How far the site's wall clock is ahead of UTC at an instant, in milliseconds.
  function offset(ms) {
    var w = wall(ms);
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000;
  }

  // The value of a datetime-local field showing the server's now on the site's wall clock.
  function fieldNow() {
    var w = wall(now());
    return w.year + "-" + two(w.month) + "-" + two(w.day) + "T" + two(w.hour) + ":" + two(w.minute);
  }

  // A datetime-local value read as the site's wall time, as an ISO 8601 instant in UTC. The
  // offset is taken at the moment itself (twice, so a moment across a change of summer time
  // gets the offset in force then, not now's).
  function fieldToIso(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
    if (!m) { return null; }
    var asUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
    var guess = asUtc - offset(asUtc);
    return new Date(asUtc - offset(guess)).toISOString();
  }

  window.custodySiteClock = { now: now, fieldNow: fieldNow, fieldToIso: fieldToIso, zone: zone };
})();
