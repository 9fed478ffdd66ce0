"""``python -m tests.coordination.worker_driver``: a node's worker in its own process, for the
kill tests.  The node is configured by the usual ``SIMPUL_*`` variables; ``COORD_TEST_LEASE``
shortens the outbox lease (120 s) so a message leased by a killed worker is retried soon."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from simpul.engine import Config, Runtime, worker


def main():
    logging.basicConfig(level=logging.WARNING)
    worker.OUTBOX_LEASE = timedelta(seconds=float(os.environ.get("COORD_TEST_LEASE", "120")))
    worker.run_forever(Runtime(Config.from_env()))


if __name__ == "__main__":
    main()
