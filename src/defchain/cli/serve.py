"""``defchain serve``: run the web application under uvicorn.

It refuses to start on an unsafe configuration (no strong ``DEFCHAIN_SECRET_KEY``
outside demo mode) or on a database that is not migrated, with one line saying why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from defchain.cli.common import err_console, fail, open_database, validation_lines
from defchain.config import ConfigError, Settings

APP_FACTORY = "defchain.web.app:create_app"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
GRACEFUL_SHUTDOWN_SECONDS = 30
# The web workers inherit these: the chain process does their pipeline and sweep.
WORKERS_OFF = {"DEFCHAIN_PIPELINE": "false", "DEFCHAIN_SWEEP_INTERVAL": "0"}


class ChainProcess:
    """``python -m defchain.chain.runner`` beside the web workers, restarted if it dies
    (a watcher thread checks every second), stopped with SIGTERM when serve exits."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="chain-watcher", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "defchain.chain.runner"], env=self._env
        )

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            process = self._process
            # A clean exit (0) is a stop asked for (SIGTERM to the process group); only a
            # crash is restarted.
            if process is not None and process.poll() not in (None, 0):
                err_console.print(
                    f"[yellow]The chain process exited ({process.returncode}); restarting it."
                    "[/yellow]"
                )
                self._spawn()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load_settings() -> Settings:
    """The settings, or exit 2 with the configuration's one-line refusal."""
    try:
        return Settings()
    except ConfigError as exc:
        fail(str(exc))
    except ValidationError as exc:
        # A ConfigError that subclasses ValueError arrives wrapped by pydantic: unwrap it.
        for error in exc.errors():
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, ConfigError):
                fail(str(cause))
        env_names = {name: f"DEFCHAIN_{name.upper()}" for name in Settings.model_fields}
        fail("; ".join(validation_lines(exc, env_names)))


def check_database() -> None:
    """Exit unless the database is reachable, exists and is at the newest revision."""
    with open_database(require_head=True):
        pass


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to bind.", show_default="DEFCHAIN_HOST or 127.0.0.1"),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port.", show_default="DEFCHAIN_PORT or 8000")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    reload: Annotated[
        bool, typer.Option(help="Restart when the code changes (development).")
    ] = False,
    access_log: Annotated[
        bool,
        typer.Option(
            help="Log every request with the client's address. Off by default: the public "
            "tip page promises that no IP address is kept (docs/privacy.md)."
        ),
    ] = False,
) -> None:
    """Run the web application."""
    settings = load_settings()
    check_database()
    if settings.demo and not os.environ.get("DEFCHAIN_SECRET_KEY"):
        # Every worker (and every reload) builds its own Settings: share one random demo
        # key through the environment so a form signed by one worker verifies in another.
        os.environ["DEFCHAIN_SECRET_KEY"] = settings.secret_key
    if workers > 1 and settings.sqlite_path() is not None:
        err_console.print(
            "[yellow]Warning:[/yellow] SQLite lets one writer at a time; several workers "
            "queue behind each other. Use PostgreSQL for many users."
        )
    if workers > 1 and reload:
        fail("--reload runs a single process; leave out --workers or --reload.")
    # The pipeline and the sweep run in a process of their own (defchain.chain.runner),
    # not in each worker: its Python work must not hold a worker's interpreter lock
    # while that worker answers tips. The workers inherit these two settings.
    chain = ChainProcess(dict(os.environ))
    saved = {name: os.environ.get(name) for name in WORKERS_OFF}
    os.environ.update(WORKERS_OFF)
    if settings.pipeline or settings.sweep_interval > 0:
        chain.start()

    def stop_chain(signum: int, _frame: FrameType | None) -> None:
        # uvicorn restores this handler after its graceful shutdown and raises the
        # signal again: stop the chain process, then exit as the signal asked.
        chain.stop()
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, stop_chain) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _run_uvicorn(host, port, workers, reload, access_log, settings)
    finally:
        chain.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for name, value in saved.items():  # as it was (serve may run inside tests)
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_uvicorn(
    host: str | None,
    port: int | None,
    workers: int,
    reload: bool,
    access_log: bool,
    settings: Settings,
) -> None:
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        reload=reload,
        reload_dirs=[str(PACKAGE_DIR)] if reload else None,
        server_header=False,
        access_log=access_log,
        # SIGTERM: stop accepting, let requests in flight commit and answer, then exit. A
        # request still running after this many seconds is cut off unanswered: it was never
        # acknowledged, and an uncommitted transaction leaves nothing behind.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
