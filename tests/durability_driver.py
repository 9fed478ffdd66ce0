"""Child process for the durability test: works cases in a loop until it is killed.

After every engine call returns (the transaction has committed) it appends an
acknowledgement line to the ack file and fsyncs it, so the parent knows what a clerk would
have seen confirmed on screen before the power went.
"""

from __future__ import annotations

import json
import os
import sys

from sqlalchemy import select

from simpul.engine import Config, Conflict, Runtime, complete_task, list_tasks, start_case
from simpul.engine.directory import actor_for
from simpul.engine.models import ProcessVersion
from simpul.engine.worker import run_due

from .flows import RESIDENT, step_data


def main(url: str, ack_path: str, run_id: int) -> None:
    rt = Runtime(
        Config(
            database_url=url,
            office_code="640205",
            regency_code="6402",
            worker_poll_seconds=0.1,
            instance_path=os.path.dirname(ack_path),
        )
    )
    actors = {name: actor_for(rt, name) for name in ("operator", "verifier", "disdukcapil")}
    ack = open(ack_path, "a", buffering=1)

    def acknowledge(**record):
        ack.write(json.dumps(record) + "\n")
        ack.flush()
        os.fsync(ack.fileno())

    # Parse the deployed specs before saying ready, so the kills land among steps (what the
    # test is about) rather than in the one-off start-up of a slow machine.
    with rt.read() as s:
        for version_id in s.scalars(select(ProcessVersion.id)):
            rt.version_info(s, version_id)
    print("ready", flush=True)
    serial = 0
    while True:
        open_tasks = list({t["id"]: t for who in actors.values() for t in list_tasks(rt, who)}.values())
        if len({t["receipt"] for t in open_tasks}) < 3:
            serial += 1
            # NIK: kecamatan 640205, born 5 July 2000 (a woman: day 45), then a serial unique per run.
            nik = f"640205450700{run_id % 100:02d}{serial % 100:02d}"
            try:
                case = start_case(
                    rt,
                    "ektp_new_card",
                    {"nik": nik, "resident_name": f"Warga {run_id}-{serial}", **RESIDENT},
                    actors["operator"],
                )
                acknowledge(kind="start", receipt=case["receipt"], nik=nik)
            except Conflict:
                pass
        for task in open_tasks:
            who, data = step_data(rt, task["step"])
            try:
                complete_task(rt, task["id"], data, actors[who], expected_version=task["version"])
            except Conflict:
                continue
            acknowledge(kind="complete", task=task["id"], step=task["step"], receipt=task["receipt"])
        counts = run_due(rt)
        if any(counts.values()):
            acknowledge(kind="worker", counts=counts)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
