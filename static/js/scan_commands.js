/* The command sheet's print button (no inline scripts: this file is all it needs). */
(function () {
  "use strict";
  var button = document.getElementById("print-sheet");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
})();
