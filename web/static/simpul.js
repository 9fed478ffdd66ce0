/* Simpul's small progressive enhancements: no framework, everything works without it too. */
(function () {
  "use strict";

  // After a refused submission, move focus to the error summary so it is read out first.
  var summary = document.getElementById("form-errors") || document.getElementById("confirm-end");
  if (summary) { summary.focus(); }

  // form-js "conditional.hide" expressions (a small FEEL subset): "=field", "=not(field)",
  // "=a = \"x\"", "=a != \"x\"", "=a = null", joined by "and"/"or".
  function tokenize(text) {
    var re = /\s*(not\(|\(|\)|!=|=|"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_.]*|-?\d+(?:\.\d+)?)/y, out = [], m;
    re.lastIndex = 0;
    while (re.lastIndex < text.length && (m = re.exec(text))) { out.push(m[1]); }
    if (text.slice(re.lastIndex).trim()) { throw new Error("unsupported expression"); }
    return out;
  }
  function evaluate(expr, values) {
    var tokens = tokenize(expr.replace(/^=/, "")), pos = 0;
    function peek() { return tokens[pos]; }
    function next() { return tokens[pos++]; }
    function atom() {
      var t = next();
      if (t === "not(") { var v = orExpr(); next(); return !truthy(v); }
      if (t === "(") { var w = orExpr(); next(); return w; }
      if (t === "null") { return null; }
      if (t === "true") { return true; }
      if (t === "false") { return false; }
      if (/^"/.test(t)) { return JSON.parse(t); }
      if (/^-?\d/.test(t)) { return Number(t); }
      return values(t);
    }
    function cmp() {
      var left = atom();
      if (peek() === "=" || peek() === "!=") {
        var op = next(), right = atom();
        var eq = (left === undefined ? null : left) === (right === undefined ? null : right) ||
                 (left !== null && right !== null && String(left) === String(right));
        return op === "=" ? eq : !eq;
      }
      return left;
    }
    function andExpr() { var v = cmp(); while (peek() === "and") { next(); var r = cmp(); v = truthy(v) && truthy(r); } return v; }
    function orExpr() { var v = andExpr(); while (peek() === "or") { next(); var r = andExpr(); v = truthy(v) || truthy(r); } return v; }
    return truthy(orExpr());
  }
  function truthy(v) { return !(v === null || v === undefined || v === false || v === "" || (Array.isArray(v) && !v.length)); }

  // Check the NIK as the clerk types it (the verification plugin's endpoint), before submitting.
  document.querySelectorAll("form[data-nik-check]").forEach(function (form) {
    var nik = form.querySelector('[name="nik"]');
    if (!nik) { return; }
    var box = document.createElement("div");
    box.className = "nik-check";
    box.id = "nik-check";
    box.setAttribute("aria-live", "polite");
    nik.parentNode.appendChild(box);
    nik.setAttribute("aria-describedby", ((nik.getAttribute("aria-describedby") || "") + " nik-check").trim());
    function value(name) {
      var checked = form.querySelector('[name="' + name + '"]:checked');
      var input = checked || form.querySelector('[name="' + name + '"]:not([type=radio])');
      return input ? input.value : "";
    }
    function check() {
      if (nik.value.length < 16) { box.textContent = ""; return; }
      var url = form.getAttribute("data-nik-check") + "?nik=" + encodeURIComponent(nik.value) +
        "&birth_date=" + encodeURIComponent(value("birth_date")) + "&sex=" + encodeURIComponent(value("sex"));
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (!body) { return; }
          box.className = "nik-check " + (body.ok ? "ok" : "bad");
          box.textContent = body.ok ? "\u2713 " + (form.getAttribute("data-nik-ok") || "") : (body.errors || []).join(" ");
        }).catch(function () { box.textContent = ""; });
    }
    ["change", "blur"].forEach(function (ev) { nik.addEventListener(ev, check); });
    form.addEventListener("change", function (e) { if (e.target.name === "birth_date" || e.target.name === "sex") { check(); } });
  });

  document.querySelectorAll("form.step-form").forEach(function (form) {
    var conditional = form.querySelectorAll("[data-hide]");
    if (!conditional.length) { return; }
    function valueOf(key) {
      var inputs = form.querySelectorAll('[name="' + key + '"]');
      if (!inputs.length) { return null; }
      var first = inputs[0];
      if (first.type === "checkbox" && inputs.length === 1) { return first.checked; }
      if (first.type === "radio" || first.type === "checkbox") {
        var chosen = Array.prototype.filter.call(inputs, function (i) { return i.checked; }).map(function (i) { return i.value; });
        return first.type === "radio" ? (chosen[0] === undefined ? null : chosen[0]) : chosen;
      }
      return first.value === "" ? null : first.value;
    }
    function update() {
      conditional.forEach(function (field) {
        var hide = false;
        try { hide = evaluate(field.getAttribute("data-hide"), valueOf); } catch (e) { hide = false; }
        field.setAttribute("data-hidden", hide ? "true" : "false");
      });
    }
    form.addEventListener("change", update);
    form.addEventListener("input", update);
    update();
  });
})();
