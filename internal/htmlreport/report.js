// Self-check after load: records on the body element whether every series
// path was laid out and which series ends highest, and any script error on
// the root element.
// Tests read these attributes from the rendered DOM.
(function () {
  "use strict";
  window.addEventListener("error", function (e) {
    document.documentElement.setAttribute("data-js-error", String(e.message || e.type));
  });
  document.addEventListener("DOMContentLoaded", function () {
    var body = document.body;
    var paths = document.querySelectorAll("svg.chart path.series");
    var drawn = 0, tallest = "", top = Infinity;
    for (var i = 0; i < paths.length; i++) {
      var p = paths[i];
      var box = p.getBBox();
      if (box.width > 0 || box.height > 0) {
        drawn++;
      }
      var end = p.getPointAtLength(p.getTotalLength());
      if (end.y < top) {
        top = end.y;
        tallest = p.getAttribute("data-tag");
      }
    }
    body.setAttribute("data-series", String(paths.length));
    body.setAttribute("data-drawn", String(drawn));
    if (paths.length > 0) {
      body.setAttribute("data-tallest", tallest);
    }
    body.setAttribute("data-ok", drawn === paths.length ? "1" : "0");
  });
})();
