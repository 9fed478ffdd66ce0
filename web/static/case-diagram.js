/* The case's BPMN diagram in bpmn-js (served by this app, never a CDN), with finished steps
   in green and current steps in amber.  The same information is in the text under it. */
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  var dataNode = document.getElementById("diagram-data");
  if (!container || !dataNode) { return; }
  var data = JSON.parse(dataNode.textContent);
  function unavailable() {
    var p = document.createElement("p");
    p.className = "unavailable";
    p.textContent = container.getAttribute("data-unavailable");
    container.appendChild(p);
    container.setAttribute("data-state", "unavailable");
  }
  if (typeof window.BpmnJS !== "function") { unavailable(); return; }
  var viewer = new window.BpmnJS({ container: container });
  viewer.importXML(data.xml).then(function () {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    // bpmn-js wraps a label into one <tspan> per line and drops the space it broke at, so the
    // text read aloud or copied ran words together ("kartubelum kembali"): give it back.
    Array.prototype.forEach.call(container.querySelectorAll("text"), function (text) {
      var lines = text.querySelectorAll("tspan");
      for (var i = 0; i < lines.length - 1; i++) {
        if (!/\s$/.test(lines[i].textContent)) { lines[i].textContent += " "; }
      }
    });
    data.completed.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "simpul-done"); } });
    data.current.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "simpul-current"); } });
    container.setAttribute("data-state", "ready");
    window.addEventListener("resize", function () { canvas.zoom("fit-viewport", "auto"); });
  }).catch(function (err) {
    container.setAttribute("data-state", "error");
    container.textContent = String(err && err.message || err);
  });
})();
