"""The chain's own process under ``defchain serve``: the pipeline, the sweep, e-mail.

Web workers answer requests; this process does the work that follows them, so that its
Python work never competes with a worker's event loop for that worker's interpreter
lock. It polls for new reports every ``poll`` seconds (a query on a partial index),
runs the sweep every ``DEFCHAIN_SWEEP_INTERVAL`` seconds and e-mails what they produce.
SIGTERM or SIGINT stop it after the current round. ``defchain serve`` starts it, tells
the web workers not to run their own pipeline and sweeper, and restarts it if it dies.

    python -m defchain.chain.runner      # what serve runs
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

# Imported for their registrations: the cases tripwire and person facts listen to the
# pipeline's links; assessment registers what it adds on top of cases.
import defchain.assessment
import defchain.cases
import defchain.firearms  # noqa: F401
from defchain.chain.pipeline import Pipeline
from defchain.chain.sweep import SweepResult
from defchain.chain.sweeper import Sweeper, SweepLock
from defchain.clock import SystemClock
from defchain.config import Settings
from defchain.db import make_engine, make_session_factory
from defchain.notify import MailWorker, SmtpMailer
from defchain.triage.service import Processed

log = logging.getLogger("defchain.chain")
POLL_SECONDS = 0.25


def run(settings: Settings, *, poll: float = POLL_SECONDS) -> None:
    """Run until SIGTERM/SIGINT."""
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    clock = SystemClock()
    mail: MailWorker | None = None
    if settings.smtp_host:
        mailer = SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            user=settings.smtp_user,
            password=settings.smtp_password,
        )
        mail = MailWorker(factory, mailer, clock, settings.base_url)

    def after_round(processed: list[Processed]) -> None:
        if mail is not None and any(p.notified for p in processed):
            mail.wake()

    def after_sweep(result: SweepResult) -> None:
        if mail is not None and result.notified:
            mail.wake()

    pipeline = (
        Pipeline(factory, clock, interval=poll, gather=0.0, after_round=after_round)
        if settings.pipeline
        else None
    )
    sweeper = (
        Sweeper(
            factory,
            clock,
            SweepLock(engine, settings.sqlite_path()),
            interval=settings.sweep_interval,
            after=after_sweep,
        )
        if settings.sweep_interval > 0
        else None
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the current round", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if mail is not None:
        mail.start()
    if pipeline is not None:
        pipeline.start()
    if sweeper is not None:
        sweeper.start()
    log.info("chain process running: pipeline polls every %.2f s", poll)
    parent = os.getppid()
    while not stop.wait(1.0):
        if os.getppid() != parent:  # serve died without stopping us (SIGKILL)
            log.warning("defchain serve is gone: stopping")
            break
    if sweeper is not None:
        sweeper.close()
    if pipeline is not None:
        pipeline.close()
    if mail is not None:
        mail.close()
    engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run(Settings())


if __name__ == "__main__":
    main()
