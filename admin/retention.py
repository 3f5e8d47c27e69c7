"""The retention daemon (``python -m admin.retention``, started by scripts/run.sh): deletes old personal data.

Every RETENTION_INTERVAL_S it deletes conversations (Rasa's tracker events and, with ANALYTICS_DB_URL, the
event broker's rows), hand-over requests, feedback and unanswered questions older than RETENTION_DAYS.
``--once`` runs one pass (e.g. from cron).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Sequence
from types import FrameType

from admin.analytics import purge_before
from admin.config import AdminSettings
from common.settings import load_or_exit, use_settings
from desk.retention import PurgeReport, purge
from desk.settings import DeskSettings
from desk.unanswered import UnansweredInbox
from knowledge.config import KnowledgeSettings

log = logging.getLogger("retention")


class RetentionProcessSettings(DeskSettings, KnowledgeSettings, AdminSettings):
    """The retention daemon's settings: the age and interval, the data dir, the catalogue and tracker stores."""


def run_once(settings: RetentionProcessSettings) -> PurgeReport:
    """One retention pass over every store."""
    inbox = UnansweredInbox(settings.catalogue_db_url)
    try:
        report = purge(settings.data_dir, inbox, settings.tracker_store_url, settings.retention_s)
    finally:
        inbox.engine.dispose()
    if settings.analytics_url:
        analytics = purge_before(settings.analytics_url, time.time() - settings.retention_s)
        log.info("retention: deleted %d analytics event(s) of Rasa's event broker", analytics)
    log.info("retention (older than %g days): deleted %d conversation event(s), %d hand-over(s), %d rating(s), "
             "%d unanswered question(s)", settings.retention_days, report.tracker_events, report.handoffs,
             report.feedback, report.unanswered)
    return report


def run_forever(settings: RetentionProcessSettings, stop: threading.Event) -> None:
    """Run a pass now and then every interval until ``stop`` is set; a failed pass never ends the loop."""
    while not stop.is_set():
        try:
            run_once(settings)
        except Exception:
            log.exception("retention pass failed")
        stop.wait(settings.retention_interval_s)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m admin.retention", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run one retention pass and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_or_exit(RetentionProcessSettings.from_env)
    use_settings(settings)
    if args.once:
        run_once(settings)
        return 0
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    run_forever(settings, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
