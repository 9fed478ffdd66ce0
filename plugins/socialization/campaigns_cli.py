"""``simpul campaigns create|list|show`` and ``simpul visits create|list|show|attend`` (each
with ``--json``): outreach campaigns and recording visits from the shell."""

from __future__ import annotations

import json

import click


def _actor(ctx, username):
    return ctx.obj.actor(username)


def _out(data, as_json, lines):
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, default=str))
    else:
        for line in lines(data):
            click.echo(line)


def _csv(value):
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@click.group("campaigns")
def campaigns():
    """Outreach campaigns with target lists taken from a coverage filter."""


@campaigns.command("create")
@click.option("--title", required=True)
@click.option("--goal")
@click.option("--kelurahan")
@click.option("--rw", help="e.g. 001-003")
@click.option("--rt", help="e.g. 005-008")
@click.option("--sex", type=click.Choice(["L", "P"]))
@click.option("--state", "states", multiple=True, type=click.Choice(["without_record", "recorded", "printed"]))
@click.option("--from", "starts_on", required=True, help="YYYY-MM-DD")
@click.option("--until", "ends_on", required=True, help="YYYY-MM-DD")
@click.option("--media", help="comma-separated: meeting, banner, radio, whatsapp, school, door_to_door")
@click.option("--staff", help="comma-separated user names")
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "username")
@click.pass_context
def create(ctx, title, goal, kelurahan, rw, rt, sex, states, starts_on, ends_on, media, staff, as_json, username):
    """Create a campaign; its targets are the residents the filter finds now."""
    from .campaigns import campaign_results, create_campaign

    rt_ = ctx.obj.runtime
    actor = _actor(ctx, username)
    cid = create_campaign(
        rt_,
        actor,
        title=title,
        goal=goal,
        filters={"kelurahan": kelurahan, "rw": rw, "rt": rt, "sex": sex},
        states=states or None,
        starts_on=starts_on,
        ends_on=ends_on,
        media=_csv(media),
        staff=_csv(staff),
    )
    result = campaign_results(rt_, actor, cid)
    _out(result, as_json, lambda r: [f"campaign {r['id']}: {r['title']} ({r['targets']} targets)"])


@campaigns.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "username")
@click.pass_context
def list_command(ctx, as_json, username):
    from .campaigns import list_campaigns

    rows = list_campaigns(ctx.obj.runtime, _actor(ctx, username))
    _out(
        rows,
        as_json,
        lambda rs: [f"{r['id']}\t{r['starts_on']}..{r['ends_on']}\t{r['targets']}\t{r['title']}" for r in rs],
    )


@campaigns.command("show")
@click.argument("campaign_id", type=int)
@click.option("--targets", is_flag=True, help="Include the target list (NIKs masked).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "username")
@click.pass_context
def show(ctx, campaign_id, targets, as_json, username):
    from .campaigns import campaign_results

    result = campaign_results(ctx.obj.runtime, _actor(ctx, username), campaign_id, with_targets=targets)

    def lines(r):
        res = r["results"]
        yield f"{r['id']}: {r['title']} ({r['starts_on']}..{r['ends_on']})"
        yield " ".join(f"{k} {v}" for k, v in res.items())
        for v in r["visits"]:
            yield f"  visit {v['id']} {v['date']} {v['place']}: {v['cases_started']} cases started"

    _out(result, as_json, lines)


@click.group("visits")
def visits():
    """Recording visits (jemput bola): who is expected, who came, their cases."""


@visits.command("create")
@click.option("--campaign", "campaign_id", type=int, required=True)
@click.option("--place", required=True)
@click.option("--date", "visit_date", required=True, help="YYYY-MM-DD")
@click.option("--time", "visit_time", help="HH:MM")
@click.option("--staff", help="comma-separated user names")
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "username")
@click.pass_context
def visit_create(ctx, campaign_id, place, visit_date, visit_time, staff, as_json, username):
    from .campaigns import create_visit, show_visit

    actor = _actor(ctx, username)
    vid = create_visit(
        ctx.obj.runtime,
        actor,
        campaign_id,
        place=place,
        visit_date=visit_date,
        visit_time=visit_time,
        staff=_csv(staff),
    )
    result = show_visit(ctx.obj.runtime, actor, vid)
    _out(result, as_json, lambda r: [f"visit {r['id']}: {r['place']} {r['date']} ({len(r['expected'])} expected)"])


@visits.command("list")
@click.option("--campaign", "campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "username")
@click.pass_context
def visit_list(ctx, campaign_id, as_json, username):
    from .campaigns import list_visits

    rows = list_visits(ctx.obj.runtime, _actor(ctx, username), campaign_id)
    _out(rows, as_json, lambda rs: [f"{r['id']}\t{r['date']}\t{r['time'] or ''}\t{r['place']}" for r in rs])


@visits.command("show")
@click.argument("visit_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "username")
@click.pass_context
def visit_show(ctx, visit_id, as_json, username):
    from .campaigns import show_visit

    result = show_visit(ctx.obj.runtime, _actor(ctx, username), visit_id)

    def lines(r):
        yield f"visit {r['id']}: {r['place']} {r['date']} {r['time'] or ''} (campaign {r['campaign']['id']})"
        for e in r["expected"]:
            mark = "x" if e["came"] else " "
            yield f"  [{mark}] {e['id']}\t{e['nik']}\t{e['name']}\t{e['receipt'] or e['problem'] or ''}"

    _out(result, as_json, lines)


@visits.command("attend")
@click.argument("visit_id", type=int)
@click.argument("resident_ids", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "username")
@click.pass_context
def visit_attend(ctx, visit_id, resident_ids, as_json, username):
    """Mark residents (by registry id) as come, and start their cases."""
    from .campaigns import mark_came

    rows = mark_came(ctx.obj.runtime, _actor(ctx, username), visit_id, list(resident_ids))
    _out(rows, as_json, lambda rs: [f"{r['resident_id']}\t{r['receipt'] or r['problem']}" for r in rs])
