"""Inbox paging by key: every sort walked page by page, forwards from the first page and
backwards from the last, holds each open task exactly once and in the sort's order, also
across the boundary between tasks with a due date and those without one, and with ties."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from simpul.engine import InvalidInput
from simpul.engine import inbox as engine_inbox
from simpul.engine.directory import actor_for
from simpul.engine.models import HumanTask, utcnow

from .flows import start_new_card

N = 11


@pytest.fixture
def tasks(runtime):
    for n in range(1, N + 1):
        start_new_card(runtime, n)
    base = utcnow().replace(microsecond=0)
    with runtime.transaction() as uow:
        rows = uow.session.scalars(select(HumanTask).order_by(HumanTask.case_id)).all()
        for i, task in enumerate(rows):
            # three share a due date (ties broken by wait, then id), four have none
            task.due_at = None if i % 3 == 2 else base + timedelta(days=min(i, 4))
            task.created_at = base - timedelta(minutes=i % 4)  # ties in waiting time too
    return actor_for(runtime, "camat")


def walk(runtime, camat, sort, per_page, backwards=False):
    pages, cursor = [], None
    while True:
        kwargs = {"before": cursor} if backwards and cursor else {"after": cursor} if cursor else {}
        page = engine_inbox.inbox(
            runtime, camat, view="office", sort=sort, per_page=per_page, last=backwards and not cursor, **kwargs
        )
        pages.append(page)
        cursor = page["prev_before"] if backwards else page["next_after"]
        if cursor is None:
            break
        assert len(pages) <= N + 1, "paging does not end"
    if backwards:
        pages.reverse()
    return pages


@pytest.mark.parametrize("sort", engine_inbox.SORTS)
@pytest.mark.parametrize("per_page", [1, 3, 4, N])
def test_every_sort_pages_forwards_and_backwards_without_gaps_or_repeats(runtime, tasks, sort, per_page):
    everything = engine_inbox.inbox(runtime, tasks, view="office", sort=sort, per_page=200)
    expected = [t["id"] for t in everything["items"]]
    assert len(expected) == N and everything["next_after"] is None and everything["prev_before"] is None
    forwards = walk(runtime, tasks, sort, per_page)
    assert [t["id"] for p in forwards for t in p["items"]] == expected
    assert all(len(p["items"]) == per_page for p in forwards[:-1])
    assert forwards[0]["prev_before"] is None and forwards[-1]["next_after"] is None
    assert [p["page"] for p in forwards][:1] == [1] and forwards[0]["pages"] == -(-N // per_page)
    backwards = walk(runtime, tasks, sort, per_page, backwards=True)
    seen = [t["id"] for p in backwards for t in p["items"]]
    assert seen == expected  # the last page is the last per_page tasks; the first is cut short
    assert backwards[-1]["page"] == backwards[-1]["pages"]


def test_due_order_puts_undated_tasks_last_and_a_next_page_follows_the_boundary(runtime, tasks):
    items = engine_inbox.inbox(runtime, tasks, view="office", per_page=200)["items"]
    dated = [t["due_at"] for t in items if t["due_at"] is not None]
    assert dated == sorted(dated) and all(t["due_at"] is None for t in items[len(dated) :])
    # a page that ends on the last dated task: the next one starts with the first undated
    cut = engine_inbox.inbox(runtime, tasks, view="office", per_page=len(dated))
    after = engine_inbox.inbox(runtime, tasks, view="office", per_page=2, after=cut["next_after"])
    assert [t["id"] for t in after["items"]] == [t["id"] for t in items[len(dated) : len(dated) + 2]]


def test_a_task_done_meanwhile_shifts_no_page(runtime, tasks):
    first = engine_inbox.inbox(runtime, tasks, view="office", per_page=4)
    everything = [t["id"] for t in engine_inbox.inbox(runtime, tasks, view="office", per_page=200)["items"]]
    with runtime.transaction() as uow:  # the first row of page 1 is done by someone else
        uow.session.delete(uow.session.get(HumanTask, first["items"][0]["id"]))
    second = engine_inbox.inbox(runtime, tasks, view="office", per_page=4, after=first["next_after"], page=2)
    assert [t["id"] for t in second["items"]] == everything[4:8] and second["page"] == 2


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_broken_cursors_and_bare_page_numbers_are_a_clear_refusal(runtime, tasks):
    good = engine_inbox.inbox(runtime, tasks, view="office", per_page=2)["next_after"]
    for bad in ("x", "!!!", good[:-3], "W10", "WzksIjEiXQ", "bm90IGpzb24", "WzAsMSwyLDNd", "é" * 10, good * 20):
        with pytest.raises(InvalidInput):
            engine_inbox.inbox(runtime, tasks, view="office", after=bad)
        with pytest.raises(InvalidInput):
            engine_inbox.inbox(runtime, tasks, view="office", before=bad)
    with pytest.raises(InvalidInput):  # a cursor of another sort
        engine_inbox.inbox(runtime, tasks, view="office", sort="name", after=good)
    with pytest.raises(InvalidInput):  # an old bookmark: a page number alone names no page
        engine_inbox.inbox(runtime, tasks, view="office", page=3)
