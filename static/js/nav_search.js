/* The search page: the navigation bar's search field keeps what was searched, selected, with
 * the focus, so the next scan replaces it (a keyboard-wedge scanner types into the focus). */
(function () {
  "use strict";
  var field = document.getElementById("nav-search-q");
  if (!field || !field.dataset.refocus) { return; }
  field.focus();
  field.select();
})();
