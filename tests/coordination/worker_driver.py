"""``python -m tests.coordination.worker_driver``: a node's worker in its own process, for the
kill tests.  The node is configured by the usual ``SIMPUL_*`` variables; ``COORD_TEST_LEASE``
shortens the outbox lease (120 s) so a message leased by a killed worker is retried soon.

It prints ``ready`` once its runtime is built (plugins loaded, settings checked), just before
its first pass: the kill test waits for that line instead of guessing how long start-up takes."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from simpul.engine import Config, Runtime, outbox, worker


def main():
    logging.basicConfig(level=logging.WARNING)
    outbox.OUTBOX_LEASE = timedelta(seconds=float(os.environ.get("COORD_TEST_LEASE", "120")))
    runtime = Runtime(Config.from_env())
    print("ready", flush=True)
    worker.run_forever(runtime)


if __name__ == "__main__":
    main()
