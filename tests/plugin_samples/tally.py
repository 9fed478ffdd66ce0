"""A third party's plugin, written only against the documented hooks (docs/plugins.md) and
the names ``simpul.engine`` exports: the acceptance test of the plugin contract
(tests/test_plugin_contract.py).

It counts a case's photocopied pages and charges a copying fee:

* a **setting** ``tally.fee_per_page`` (default 500 rupiah; ``SIMPUL_SETTINGS`` or
  ``SIMPUL_TALLY_FEE`` change it);
* a **BPMN helper** ``copy_fee(pages)`` that scripts and conditions call;
* a **table** ``tally_copies`` with its own migration (``tally_migrations/``);
* a **page** ``/tally/cases/<receipt>`` that lists and records copies, and a **case action**
  that links to it from the case and task pages.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Blueprint, abort, g, redirect, request, url_for
from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from simpul import engine
from simpul.engine import N_, PluginError, hookimpl

NAMESPACE = "tally"
MIGRATIONS = Path(__file__).resolve().parent / "tally_migrations"


class Base(DeclarativeBase):
    pass


class Copy(Base):
    __tablename__ = "tally_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    receipt: Mapped[str] = mapped_column(String(40), index=True)
    pages: Mapped[int] = mapped_column(Integer)
    fee: Mapped[int] = mapped_column(Integer)
    made_by: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[datetime] = mapped_column(DateTime())


def fee_for(runtime, pages) -> int:
    return int(pages) * int(runtime.plugin_settings(NAMESPACE)["fee_per_page"])


@hookimpl
def plugin_settings():
    return {
        "namespace": NAMESPACE,
        "defaults": {"fee_per_page": 500},
        "environment": {"fee_per_page": "SIMPUL_TALLY_FEE"},
    }


@hookimpl
def node_started(runtime):
    if int(runtime.plugin_settings(NAMESPACE)["fee_per_page"]) < 0:
        raise PluginError("tally.fee_per_page cannot be negative.")


@hookimpl
def plugin_migrations():
    return {"name": "tally", "directory": MIGRATIONS, "metadata": Base.metadata}


@hookimpl
def expression_helpers(runtime):
    return {"copy_fee": lambda pages: fee_for(runtime, pages)}


@hookimpl
def case_actions(runtime, case, actor):
    return [{"label": N_("Copies"), "endpoint": "tally.copies", "values": {"receipt": case["receipt"]}}]


@hookimpl
def web_blueprints(runtime):
    bp = Blueprint("tally", __name__, url_prefix="/tally")

    @bp.route("/cases/<receipt>", methods=["GET", "POST"])
    def copies(receipt):
        actor = g.get("actor")
        if actor is None:
            abort(401)
        case = engine.get_case(runtime, receipt, actor)  # another office's case: not found
        if request.method == "POST":
            pages = request.form.get("pages", type=int)
            if not pages or pages < 1:
                return "Pages must be a whole number above zero.", 422
            with runtime.transaction() as uow:
                uow.session.add(
                    Copy(
                        receipt=case["receipt"],
                        pages=pages,
                        fee=fee_for(runtime, pages),
                        made_by=actor.username,
                        made_at=datetime.now(),
                    )
                )
            return redirect(url_for("tally.copies", receipt=receipt))
        with runtime.read() as s:
            rows = s.scalars(select(Copy).where(Copy.receipt == case["receipt"]).order_by(Copy.id)).all()
        lines = [f"{r.pages} pages, Rp {r.fee}, by {r.made_by}" for r in rows]
        return {"receipt": case["receipt"], "copies": lines, "total": sum(r.fee for r in rows)}

    return [bp]
