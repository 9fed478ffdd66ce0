"""The user's own account (language, password, API tokens) and the user admin pages."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from simpul import engine
from simpul.engine import ROLES, SimpulError, ValidationFailed

from .auth import login_required, role_required
from .extensions import runtime
from .i18n import render_error, render_field_errors

bp = Blueprint("admin", __name__)


def _offices():
    return engine.list_offices(runtime())


@bp.route("/account")
@login_required
def account():
    return _render_account()


def _render_account(*, new_token=None, errors=None, message=None, status=200):
    rt, actor = runtime(), g.actor
    return render_template(
        "account.html",
        user=engine.get_user(rt, actor.username, actor),
        tokens=engine.list_tokens(rt, actor.username, actor),
        new_token=new_token,
        errors=errors or {},
        message=message,
    ), status


@bp.route("/account/password", methods=["POST"])
@login_required
def account_password():
    rt, actor = runtime(), g.actor
    if request.form.get("new_password") != request.form.get("confirm_password"):
        return _render_account(
            errors={"confirm_password": [_("The two passwords differ.")]},
            message=_("Some fields need attention."),
            status=422,
        )
    try:
        engine.change_own_password(
            rt, actor, request.form.get("current_password") or "", request.form.get("new_password") or ""
        )
    except ValidationFailed as err:
        return _render_account(errors=render_field_errors(err), message=render_error(err), status=422)
    # Every session of the user ended with the change (a stolen cookie too); this browser,
    # which just proved the password, gets a fresh one.
    session["sid"] = engine.open_session(rt, actor.username, request.remote_addr)
    flash(_("Your password was changed."), "success")
    return redirect(url_for("admin.account"))


@bp.route("/account/tokens", methods=["POST"])
@login_required
def account_token_create():
    try:
        token, _row = engine.create_token(runtime(), g.actor.username, request.form.get("name") or "", g.actor)
    except ValidationFailed as err:
        return _render_account(
            errors={"token_" + k: v for k, v in render_field_errors(err).items()}, message=render_error(err), status=422
        )
    return _render_account(new_token=token)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def account_token_revoke(token_id):
    engine.revoke_token(runtime(), token_id, g.actor)
    flash(_("The token was revoked."), "success")
    return redirect(url_for("admin.account"))


# -- user admin ----------------------------------------------------------------------------


@bp.route("/admin/users")
@role_required("system_admin")
def users():
    return render_template("admin_users.html", users=engine.list_users(runtime(), g.actor))


def _user_form(user, *, create, errors=None, message=None, status=200):
    return render_template(
        "admin_user.html",
        user=user,
        create=create,
        roles=ROLES,
        offices=_offices(),
        errors=errors or {},
        message=message,
    ), status


@bp.route("/admin/users/new", methods=["GET", "POST"])
@role_required("system_admin")
def user_new():
    return _save_user(None)


@bp.route("/admin/users/<username>", methods=["GET", "POST"])
@role_required("system_admin")
def user_edit(username):
    return _save_user(username)


def _save_user(username):
    rt, actor = runtime(), g.actor
    create = username is None
    if request.method == "GET":
        user = (
            {"username": "", "display_name": "", "office": actor.office_code, "roles": [], "active": True}
            if create
            else engine.get_user(rt, username, actor)
        )
        return _user_form(user, create=create)
    form = {
        "username": (request.form.get("username") or "").strip() if create else username,
        "display_name": request.form.get("display_name") or "",
        "office": request.form.get("office") or "",
        "roles": request.form.getlist("roles"),
        "active": request.form.get("active") == "on",
    }
    try:
        engine.save_user(
            rt,
            actor,
            form["username"],
            display_name=form["display_name"],
            office_code=form["office"],
            roles=form["roles"],
            active=form["active"],
            password=request.form.get("password") or None,
            create=create,
        )
    except ValidationFailed as err:
        return _user_form(form, create=create, errors=render_field_errors(err), message=render_error(err), status=422)
    except SimpulError as err:
        return _user_form(form, create=create, message=render_error(err), status=err.status)
    flash(_("User %(user)s saved.", user=form["username"]), "success")
    return redirect(url_for("admin.users"))
