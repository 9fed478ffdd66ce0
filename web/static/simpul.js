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

  // Drafts: what a clerk types in an open form is kept in this browser (localStorage) until
  // the step is sent, so a session that expires or a power cut loses nothing.  Per user and
  // form; the page after a successful submission tells the browser to forget it.
  var userMeta = document.querySelector('meta[name="simpul-user"]');
  var user = userMeta ? userMeta.getAttribute("content") : null;
  var store = null;
  try { store = window.localStorage; } catch (e) { store = null; }
  var clearMeta = document.querySelector('meta[name="simpul-clear-draft"]');
  if (store && user && clearMeta) { store.removeItem("simpul-draft:" + user + ":" + clearMeta.getAttribute("content")); }
  var SKIP = { csrf_token: 1, version: 1, receipt: 1, confirm_end: 1 };
  document.querySelectorAll("form[data-draft]").forEach(function (form) {
    if (!store || !user) { return; }
    var key = "simpul-draft:" + user + ":" + form.getAttribute("data-draft");
    function inputs() {
      return Array.prototype.filter.call(form.elements, function (el) {
        return el.name && !SKIP[el.name] && el.type !== "password" && el.type !== "file" && el.type !== "submit" && !el.disabled;
      });
    }
    function collect() {
      var values = {};
      inputs().forEach(function (el) {
        if (el.type === "checkbox" || el.type === "radio") {
          values[el.name] = values[el.name] || [];
          if (el.checked) { values[el.name].push(el.value); }
        } else { values[el.name] = el.value; }
      });
      return values;
    }
    function save() { store.setItem(key, JSON.stringify({ at: new Date().toISOString(), values: collect() })); }
    function restore(values) {
      inputs().forEach(function (el) {
        if (!(el.name in values)) { return; }
        var v = values[el.name];
        if (el.type === "checkbox" || el.type === "radio") { el.checked = Array.isArray(v) && v.indexOf(el.value) !== -1; }
        else { el.value = v; }
      });
      form.dispatchEvent(new Event("change", { bubbles: true }));  // conditional fields follow
    }
    var saved = null;
    try { saved = JSON.parse(store.getItem(key) || "null"); } catch (e) { saved = null; }
    if (saved && saved.values && !form.hasAttribute("data-draft-posted")) {
      restore(saved.values);
      var note = document.createElement("div");
      note.className = "alert alert-info draft-note";
      note.id = "draft-restored";
      note.setAttribute("role", "status");
      var when = new Date(saved.at);
      var text = document.createElement("span");
      text.textContent = (form.getAttribute("data-draft-restored") || "").replace("{when}", when.toLocaleString(document.documentElement.lang || undefined));
      var discard = document.createElement("button");
      discard.type = "button";
      discard.className = "small secondary";
      discard.textContent = form.getAttribute("data-draft-discard") || "";
      discard.addEventListener("click", function () { store.removeItem(key); form.reset(); form.dispatchEvent(new Event("change", { bubbles: true })); note.remove(); });
      note.appendChild(text);
      note.appendChild(discard);
      form.parentNode.insertBefore(note, form);
    }
    form.addEventListener("input", save);
    form.addEventListener("change", save);
    form.addEventListener("submit", save);
  });

  // The document checklist beside the form follows the ticks in the form as they are made.
  var checklist = document.getElementById("checklist");
  var stepForm = document.getElementById("step-form");
  if (checklist && stepForm && stepForm.querySelector('[name="documents_received"]')) {
    var follow = function () {
      var ticked = {};
      stepForm.querySelectorAll('[name="documents_received"]').forEach(function (i) { if (i.checked) { ticked[i.value] = true; } });
      checklist.querySelectorAll("li[data-requirement]").forEach(function (li) {
        var got = ticked[li.getAttribute("data-requirement")];
        var ok = got || li.hasAttribute("data-scanned");
        li.className = ok ? "ok" : "missing";
        li.querySelector(".mark").textContent = ok ? "\u2713" : "\u2717";
        li.querySelector(".state").textContent = got ? checklist.getAttribute("data-received") : (ok ? "" : checklist.getAttribute("data-missing"));
      });
    };
    stepForm.addEventListener("change", follow);
    follow();
  }
})();
