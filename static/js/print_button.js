/* A "Print" button for pages meant for paper (the worklist): hidden until this script runs,
 * so a page without script never shows a button that does nothing. The print stylesheet
 * leaves the navigation and every button off the paper. */
(function () {
  "use strict";
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
