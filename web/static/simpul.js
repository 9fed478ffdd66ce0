/* Simpul's small progressive enhancements: no framework, everything works without it too. */
(function () {
  "use strict";

  // After a refused submission, move focus to the error summary so it is read out first.
  var summary = document.getElementById("form-errors");
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

  // Checks a plugin runs while the clerk types (the live_checks hook), before submitting:
  // data-live-checks is a list of {field, url, with: [other fields], ok: text}.
  document.querySelectorAll("form[data-live-checks]").forEach(function (form) {
    var checks;
    try { checks = JSON.parse(form.getAttribute("data-live-checks")); } catch (e) { return; }
    function value(name) {
      var checked = form.querySelector('[name="' + name + '"]:checked');
      var input = checked || form.querySelector('[name="' + name + '"]:not([type=radio])');
      return input ? input.value : "";
    }
    (checks || []).forEach(function (spec) {
      var input = form.querySelector('[name="' + spec.field + '"]');
      if (!input) { return; }
      var box = document.createElement("div");
      box.className = "live-check";
      box.id = spec.field.replace(/_/g, "-") + "-check";
      box.setAttribute("aria-live", "polite");
      input.parentNode.appendChild(box);
      input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + box.id).trim());
      function check() {
        if (input.value.length < (spec.min_length || 1)) { box.textContent = ""; return; }
        var url = spec.url + "?" + spec.field + "=" + encodeURIComponent(input.value);
        (spec["with"] || []).forEach(function (name) { url += "&" + name + "=" + encodeURIComponent(value(name)); });
        fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (body) {
            if (!body) { return; }
            box.className = "live-check " + (body.ok ? "ok" : "bad");
            box.textContent = body.ok ? "\u2713 " + (spec.ok || "") : (body.errors || []).join(" ");
          }).catch(function () { box.textContent = ""; });
      }
      ["change", "blur"].forEach(function (ev) { input.addEventListener(ev, check); });
      form.addEventListener("change", function (e) { if ((spec["with"] || []).indexOf(e.target.name) >= 0) { check(); } });
    });
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
