"""The office's resident pages (signed-in staff of a kecamatan or kelurahan office).

* ``GET  /socialization/residents``                 coverage per kelurahan (chart + tables)
* ``GET  /socialization/residents/without``         eligible residents without an e-KTP,
  filterable (kelurahan, RW, RT, sex, state), keyset-paged; ``?format=csv|xlsx`` exports it
* ``GET  /socialization/residents/import``          upload a kelurahan list (CSV/XLSX)
* ``POST /socialization/residents/import``          check it: the mapping step when headers are
  unknown, else the error report and the difference against the stored list
* ``POST /socialization/residents/import/<token>``  apply it (after the confirmation)
* ``GET  /socialization/residents/import/<token>``  a list checked in the background (one over
  the ``background_import_kb`` setting): its progress (the page reloads itself, no script),
  then the mapping step, the check or the result; the confirmation is stored in the
  background too (``import_jobs``, run in slices by the worker's ``run_due_work`` hook: the
  page counts the rows checked, then the rows stored, of the file's total)
* ``GET  /socialization/residents/<id>``            one resident: registry data and e-KTP state

Every query is limited to the signed-in user's office: another office's residents are
never found (404).  NIKs are masked on every list (``engine.mask_nik``).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext

from simpul import engine
from simpul.engine.i18n import render

from . import import_jobs
from .coverage import STATE_LABELS, WITHOUT_STATES, coverage, resident_state, without_ektp
from .models import Resident
from .registry import FIELD_LABELS, FIELDS, apply_import, diff_view, plan_import, read_table, summary
from .settings import NAMESPACE

STAFF_ROLES = ("operator", "verifier", "supervisor")
PAGE = 50


def _say(message) -> str:
    """A msgid or ``Message`` in the request's language (parameters that are messages too)."""
    from flask_babel import get_translations

    return render(message, get_translations()) if message else ""


def _short(name: str) -> str:
    """A kelurahan's name without "Kelurahan"/"Desa" (the chart's axis is narrow on a phone)."""
    for prefix in ("Kelurahan ", "Desa "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _actor():
    actor = g.get("actor")
    if actor is None:
        return None
    if not actor.office_code or not any(actor.has_role(r) for r in STAFF_ROLES):
        abort(403)
    return actor


def _nik_cursor(value) -> str | None:
    """A keyset cursor of the flags page: a NIK (digits, at most 16), else none."""
    value = (value or "").strip()
    return value if value.isdigit() and len(value) <= 16 else None


def _login():
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


class _Pages:
    def __init__(self, runtime):
        self.runtime = runtime
        self.uploads = Path(runtime.config.instance_path) / "socialization-uploads"

    def kelurahan_choices(self, actor):
        return engine.kelurahan_list(self.runtime, actor.office_code)

    def home(self):
        actor = _actor()
        if actor is None:
            return _login()
        figures = coverage(self.runtime, actor.office_code)
        chart = {
            "type": "hbar",
            "categories": [_short(k["name"]) for k in figures["by_kelurahan"]],
            "series": [
                {"name": gettext("Carded"), "data": [k["carded"] for k in figures["by_kelurahan"]]},
                {"name": gettext("Recorded"), "data": [k["recorded"] for k in figures["by_kelurahan"]]},
                {
                    "name": gettext("Without e-KTP"),
                    "data": [k["without_ektp"] for k in figures["by_kelurahan"]],
                    "links": [url_for("residents.without", kelurahan=k["kelurahan"]) for k in figures["by_kelurahan"]],
                },
            ],
        }
        return render_template("socialization/residents_coverage.html", figures=figures, chart=json.dumps(chart))

    def without(self):
        actor = _actor()
        if actor is None:
            return _login()
        filters = {
            "kelurahan": request.args.get("kelurahan") or None,
            "rt": (request.args.get("rt") or "")[:40] or None,
            "rw": (request.args.get("rw") or "")[:40] or None,
            "sex": request.args.get("sex") if request.args.get("sex") in ("L", "P") else None,
        }
        state = request.args.get("state")
        states = (state,) if state in WITHOUT_STATES else WITHOUT_STATES
        fmt = request.args.get("format")
        if fmt in ("csv", "xlsx"):
            from .exports import without_bytes

            data = without_bytes(self.runtime, actor.office_code, fmt, _say, states=states, **filters)
            mime = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            name = f"tanpa-ektp-{filters['kelurahan'] or actor.office_code}.{fmt}"
            return Response(data, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'})
        after = request.args.get("after", type=int) or 0
        rows = without_ektp(self.runtime, actor.office_code, after_id=after, limit=PAGE + 1, states=states, **filters)
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        for r in rows:
            r["nik_masked"] = engine.mask_nik(r["nik"])
            r["state_label"] = gettext(STATE_LABELS[r["state"]])
        next_args = (
            {**{k: v for k, v in request.args.items() if k != "after"}, "after": rows[-1]["id"]} if more else None
        )
        return render_template(
            "socialization/residents_without.html",
            rows=rows,
            filters=filters,
            state=state if state in WITHOUT_STATES else "",
            states=[(s, gettext(STATE_LABELS[s])) for s in WITHOUT_STATES],
            kelurahan=self.kelurahan_choices(actor),
            next_url=url_for("residents.without", **next_args) if next_args else None,
            export_args={k: v for k, v in request.args.items() if k not in ("after", "format")},
        )

    def upload(self):
        actor = _actor()
        if actor is None:
            return _login()
        choices = self.kelurahan_choices(actor)
        if request.method == "GET":
            return render_template("socialization/residents_import.html", kelurahan=choices, error=None)
        file = request.files.get("file")
        limit = int(self.runtime.plugin_settings(NAMESPACE)["upload_limit_mb"]) * 1024 * 1024
        if file is None or not file.filename:
            return self._upload_error(choices, gettext("Choose a CSV or XLSX file."), 400)
        data = file.read(limit + 1)
        if len(data) > limit:
            return self._upload_error(choices, gettext("The file is larger than the limit of this office."), 413)
        if not file.filename.lower().endswith((".csv", ".txt", ".xlsx", ".xlsm")):
            return self._upload_error(choices, gettext("The file is neither CSV nor XLSX."), 400)
        self.uploads.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(12)
        suffix = ".xlsx" if file.filename.lower().endswith((".xlsx", ".xlsm")) else ".csv"
        (self.uploads / f"{token}{suffix}").write_bytes(data)
        meta = {"name": file.filename[:200], "suffix": suffix, "office": actor.office_code, "user": actor.username}
        (self.uploads / f"{token}.json").write_text(json.dumps(meta))
        if len(data) > int(self.runtime.plugin_settings(NAMESPACE)["background_import_kb"]) * 1024:
            self._queue(token, meta, "check", request.form, import_jobs.count_rows(data, suffix))
            return redirect(url_for("residents.job", token=token), 303)
        return self._preview(token, meta, data, request.form)

    def _queue(self, token, meta, action, form, rows_total=None):
        kelurahan, mapping, stop = self._options(form)
        options = {"kelurahan": kelurahan, "mapping": mapping, "stop": stop}
        import_jobs.queue(self.runtime, token, meta, action, options, rows_total)

    def _upload_error(self, choices, message, status):
        return render_template("socialization/residents_import.html", kelurahan=choices, error=message), status

    def _load(self, token):
        if not token.isalnum() or len(token) != 24:
            abort(404)
        meta_path = self.uploads / f"{token}.json"
        if not meta_path.exists():
            abort(404)
        meta = json.loads(meta_path.read_text())
        if meta["office"] != g.actor.office_code:
            abort(404)
        return meta, (self.uploads / f"{token}{meta['suffix']}").read_bytes()

    def _options(self, form):
        kelurahan = form.get("kelurahan") or None
        mapping = {}
        for key, value in form.items():
            if key.startswith("map:"):
                mapping[key[4:]] = value
        return kelurahan, mapping, form.get("stop_on_error") == "1"

    def _plan(self, meta, data, form):
        kelurahan, mapping, _stop = self._options(form)
        return plan_import(
            self.runtime, data, "x" + meta["suffix"], meta["office"], kelurahan=kelurahan, mapping=mapping or None
        )

    def _preview(self, token, meta, data, form, plan=None):
        kelurahan, mapping, stop = self._options(form)
        if plan is None:
            try:
                plan = self._plan(meta, data, form)
            except engine.InvalidInput as exc:
                return self._upload_error(self.kelurahan_choices(g.actor), exc.render(gettext), 422)
        if plan.stopped:
            header, _rows = read_table(data, "x" + meta["suffix"])
            from .registry import guess_mapping

            guessed = guess_mapping(header)
            return render_template(
                "socialization/residents_mapping.html",
                token=token,
                meta=meta,
                header=[(h, mapping.get(h, guessed.get(h) or "")) for h in header],
                fields=[(f, gettext(FIELD_LABELS[f])) for f in FIELDS],
                problems=[_say(p) for p in plan.problems],
                kelurahan=kelurahan,
                kelurahan_choices=self.kelurahan_choices(g.actor),
                stop_on_error=stop,
            ), 422
        return render_template(
            "socialization/residents_preview.html",
            token=token,
            meta=meta,
            diff=diff_view(plan, _say),
            errors=summary(plan, _say, False)["errors"],
            rows=plan.rows,
            kelurahan=kelurahan,
            mapping=mapping,
            stop_on_error=stop,
        )

    def apply(self, token):
        actor = _actor()
        if actor is None:
            return _login()
        meta, data = self._load(token)
        step = request.form.get("step")
        job = import_jobs.job_of(self.runtime, token, actor.office_code)
        if step == "discard" and not (job and job["status"] in import_jobs.RUNNING):
            import_jobs.discard(self.runtime, token, actor.office_code)
            flash(gettext("The uploaded list was discarded; nothing was stored."), "success")
            return redirect(url_for("residents.upload"), 303)
        if job is not None:  # a list checked in the background is applied there too
            if job["status"] in import_jobs.RUNNING:
                return redirect(url_for("residents.job", token=token), 303)
            self._queue(token, meta, "apply" if step == "apply" else "check", request.form, job["rows_total"])
            return redirect(url_for("residents.job", token=token), 303)
        if step != "apply":
            return self._preview(token, meta, data, request.form)
        _kel, _mapping, stop = self._options(request.form)
        try:
            plan = self._plan(meta, data, request.form)
        except engine.InvalidInput as exc:
            return self._upload_error(self.kelurahan_choices(actor), exc.render(gettext), 422)
        applied = apply_import(self.runtime, plan, actor.office_code, actor.username, stop_on_error=stop)
        result = summary(plan, _say, applied)
        if applied:
            for suffix in (meta["suffix"], ".json"):
                (self.uploads / f"{token}{suffix}").unlink(missing_ok=True)
        return render_template(
            "socialization/residents_result.html", applied=applied, result=result, gone=len(plan.gone)
        ), (200 if applied else 422)

    def job(self, token):
        """A background import: its progress while the worker is at it, then what the
        synchronous flow shows (the mapping step, the check, or the result)."""
        actor = _actor()
        if actor is None:
            return _login()
        if not token.isalnum() or len(token) != 24:
            abort(404)
        job = import_jobs.job_of(self.runtime, token, actor.office_code)
        if job is None or job["status"] == "discarded":
            abort(404)
        status, options = job["status"], job["options"] or {}
        if status in import_jobs.RUNNING:
            total, done = job["rows_total"], job["rows_done"]
            percent = min(100, int(100 * done / total)) if total else None
            storing = job["action"] == "apply" and job["phase"] == "switch"
            return render_template("socialization/residents_progress.html", job=job, percent=percent, storing=storing)
        if status == "failed":
            return self._upload_error(self.kelurahan_choices(actor), job["error"], 422)
        if status in ("applied", "stopped"):
            r = job["result"] or {}
            result = {**r, "errors": range(r.get("errors", 0))}
            return render_template(
                "socialization/residents_result.html", applied=status == "applied", result=result, gone=r.get("gone", 0)
            ), (200 if status == "applied" else 422)
        meta, data = self._load(token)
        plan = import_jobs.load_plan(self.runtime, token)
        if plan is None:
            abort(404)
        form = {"kelurahan": options.get("kelurahan") or "", "stop_on_error": "1" if options.get("stop") else ""}
        form.update({f"map:{h}": f for h, f in (options.get("mapping") or {}).items()})
        return self._preview(token, meta, data, form, plan=plan)

    def flags(self):
        actor = _actor()
        if actor is None:
            return _login()
        from .flags import KIND_LABELS, flags_page

        show_all = request.args.get("all") == "1"
        kind = request.args.get("kind") if request.args.get("kind") in KIND_LABELS else None
        after, before = (_nik_cursor(request.args.get(k)) for k in ("after", "before"))
        page = flags_page(
            self.runtime, actor.office_code, after=after, before=before, limit=PAGE, kind=kind, open_only=not show_all
        )
        for f in page["flags"]:
            f["nik_masked"] = engine.mask_nik(f["nik"])
            f["label"] = gettext(KIND_LABELS[f["kind"]])
        keep = {"kind": kind, "all": "1" if show_all else None}
        return render_template(
            "socialization/residents_flags.html",
            flags=page["flags"],
            next_url=url_for("residents.flags", **keep, after=page["next"]) if page["next"] else None,
            prev_url=url_for("residents.flags", **keep, before=page["prev"]) if page["prev"] else None,
            kinds=[(k, gettext(v)) for k, v in KIND_LABELS.items()],
            kind=kind,
            show_all=show_all,
            may_resolve=actor.has_role("verifier") or actor.has_role("supervisor"),
        )

    def resolve(self):
        actor = _actor()
        if actor is None:
            return _login()
        if not (actor.has_role("verifier") or actor.has_role("supervisor")):
            abort(403)
        from .flags import resolve_flag

        form = request.form
        try:
            resolve_flag(
                self.runtime,
                actor.office_code,
                (form.get("nik") or "")[:16],
                (form.get("kind") or "")[:32],
                (form.get("fingerprint") or "")[:64],
                (form.get("note") or "")[:1000],
                actor.username,
            )
        except engine.InvalidInput as exc:
            flash(exc.render(gettext), "error")
            return redirect(url_for("residents.flags")), 303
        flash(gettext("Flag resolved; the note is on the resident's timeline."), "success")
        back = form.get("back") or ""
        return redirect(back if back.startswith("/socialization/residents") else url_for("residents.flags"))

    def resident(self, resident_id):
        actor = _actor()
        if actor is None:
            return _login()
        with self.runtime.read() as s:
            row = s.get(Resident, resident_id)
        if row is None or row.office_code != actor.office_code:
            abort(404)
        info = resident_state(self.runtime, actor.office_code, row)
        from .flags import KIND_LABELS, flags_with_resolutions, resolutions_of

        flags = flags_with_resolutions(self.runtime, actor.office_code, row.nik, open_only=True)
        for f in flags:
            f["label"] = gettext(KIND_LABELS[f["kind"]])
        timeline = resolutions_of(self.runtime, actor.office_code, row.nik)
        cases = engine.list_cases(self.runtime, actor, nik=row.nik, limit=20)
        from sqlalchemy import select

        from .models import Campaign, CampaignTarget

        with self.runtime.read() as s:
            targeted = s.execute(
                select(Campaign.id, Campaign.title, Campaign.starts_on)
                .join(CampaignTarget, CampaignTarget.campaign_id == Campaign.id)
                .where(CampaignTarget.resident_id == row.id, Campaign.office_code == actor.office_code)
                .order_by(Campaign.id.desc())
            ).all()
        for t in timeline:
            t["label"] = gettext(KIND_LABELS.get(t["kind"], t["kind"]))
        names = {k["code"]: k["name"] for k in self.kelurahan_choices(actor)}
        return render_template(
            "socialization/resident.html",
            r=row,
            nik=engine.mask_nik(row.nik),
            info=info,
            state_label=gettext(STATE_LABELS[info["state"]]),
            kelurahan_name=names.get(row.kelurahan_code, row.kelurahan_code),
            flags=flags,
            timeline=timeline,
            cases=cases,
            campaigns=targeted,
            may_resolve=actor.has_role("verifier") or actor.has_role("supervisor"),
        )


def make_blueprint(runtime) -> Blueprint:
    bp = Blueprint("residents", __name__, url_prefix="/socialization/residents", template_folder="templates")
    pages = _Pages(runtime)
    bp.add_url_rule("", "home", pages.home)
    bp.add_url_rule("/without", "without", pages.without)
    bp.add_url_rule("/import", "upload", pages.upload, methods=["GET", "POST"])
    bp.add_url_rule("/import/<token>", "apply", pages.apply, methods=["POST"])
    bp.add_url_rule("/import/<token>", "job", pages.job, methods=["GET"])
    bp.add_url_rule("/flags", "flags", pages.flags)
    bp.add_url_rule("/flags/resolve", "resolve", pages.resolve, methods=["POST"])
    bp.add_url_rule("/<int:resident_id>", "resident", pages.resident)
    return bp
