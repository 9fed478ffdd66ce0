"""Campaign and visit pages (signed-in staff of the office).

* ``GET/POST /socialization/campaigns``            campaigns, and a new one from a filter
* ``GET      /socialization/campaigns/<id>``       results, visits, targets; a new visit
* ``POST     /socialization/campaigns/<id>/visits``
* ``GET/POST /socialization/visits/<id>``          expected residents; mark who came and
  start their cases
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from simpul import engine

from .campaigns import (
    MEDIA,
    campaign_results,
    create_campaign,
    create_visit,
    list_campaigns,
    mark_came,
    show_visit,
)
from .coverage import STATE_LABELS, WITHOUT_STATES
from .residents_web import _actor, _login


class _Pages:
    def __init__(self, runtime):
        self.runtime = runtime

    def _staff(self):
        actor = _actor()
        if actor is None:
            return None, _login()
        return actor, None

    def campaigns(self):
        actor, out = self._staff()
        if out:
            return out
        error, status = None, 200
        if request.method == "POST":
            f = request.form
            try:
                cid = create_campaign(
                    self.runtime,
                    actor,
                    title=f.get("title", ""),
                    goal=f.get("goal"),
                    filters={k: f.get(k) for k in ("kelurahan", "rw", "rt", "sex")},
                    states=f.getlist("states") or None,
                    starts_on=f.get("starts_on"),
                    ends_on=f.get("ends_on"),
                    media=f.getlist("media"),
                    staff=[s.strip() for s in (f.get("staff") or "").split(",") if s.strip()],
                )
            except engine.InvalidInput as exc:
                error, status = exc.render(gettext), 422
            else:
                return redirect(url_for("campaigns.campaign", campaign_id=cid))
        return render_template(
            "socialization/campaigns.html",
            campaigns=list_campaigns(self.runtime, actor),
            kelurahan=engine.kelurahan_list(self.runtime, actor.office_code),
            media=[(k, gettext(v)) for k, v in MEDIA.items()],
            states=[(s, gettext(STATE_LABELS[s])) for s in WITHOUT_STATES],
            today=self.runtime.today().isoformat(),
            error=error,
        ), status

    def campaign(self, campaign_id):
        actor, out = self._staff()
        if out:
            return out
        result = campaign_results(self.runtime, actor, campaign_id, with_targets=True)
        for t in result["target_list"]:
            t["state_label"] = gettext(STATE_LABELS[t["state"]])
        return render_template(
            "socialization/campaign.html",
            c=result,
            media={k: gettext(v) for k, v in MEDIA.items()},
            today=self.runtime.today().isoformat(),
            error=request.args.get("error"),
        )

    def new_visit(self, campaign_id):
        actor, out = self._staff()
        if out:
            return out
        f = request.form
        try:
            vid = create_visit(
                self.runtime,
                actor,
                campaign_id,
                place=f.get("place", ""),
                visit_date=f.get("visit_date"),
                visit_time=f.get("visit_time") or None,
                staff=[s.strip() for s in (f.get("staff") or "").split(",") if s.strip()],
            )
        except engine.InvalidInput as exc:
            flash(exc.render(gettext), "error")
            return redirect(url_for("campaigns.campaign", campaign_id=campaign_id)), 303
        return redirect(url_for("campaigns.visit", visit_id=vid))

    def visit(self, visit_id):
        actor, out = self._staff()
        if out:
            return out
        if request.method == "POST":
            if not actor.has_role("operator"):
                abort(403)
            ids = [int(v) for v in request.form.getlist("came") if v.isdigit()]
            try:
                done = mark_came(self.runtime, actor, visit_id, ids)
            except engine.InvalidInput as exc:
                flash(exc.render(gettext), "error")
            else:
                started = sum(1 for d in done if d["receipt"])
                flash(gettext("%(num)d case(s) started from this visit.", num=started), "success")
            return redirect(url_for("campaigns.visit", visit_id=visit_id))
        return render_template("socialization/visit.html", v=show_visit(self.runtime, actor, visit_id))


def make_blueprint(runtime) -> Blueprint:
    bp = Blueprint("campaigns", __name__, url_prefix="/socialization", template_folder="templates")
    pages = _Pages(runtime)
    bp.add_url_rule("/campaigns", "campaigns", pages.campaigns, methods=["GET", "POST"])
    bp.add_url_rule("/campaigns/<int:campaign_id>", "campaign", pages.campaign)
    bp.add_url_rule("/campaigns/<int:campaign_id>/visits", "new_visit", pages.new_visit, methods=["POST"])
    bp.add_url_rule("/visits/<int:visit_id>", "visit", pages.visit, methods=["GET", "POST"])
    return bp
