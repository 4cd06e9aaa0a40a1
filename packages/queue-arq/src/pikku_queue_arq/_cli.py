"""``pikku-queue-arq worker module:app``: run an arq worker for a pikku app."""

from __future__ import annotations

import argparse
import logging.config
import sys
from collections.abc import Sequence
from typing import Any

from arq.connections import RedisSettings
from arq.logs import default_log_config
from arq.worker import run_worker
from pikku_core import AppLoadError, Pikku
from pikku_core import load_app as core_load_app
from redis.exceptions import RedisError

from ._service import DEFAULT_QUEUE_NAME, ArqQueueService
from ._worker import worker_settings


class UsageError(Exception):
    """A command-line mistake, reported without a traceback."""


def load_app(path: str) -> Pikku:
    """Import ``module:attribute`` with core's loader; a failure is a usage error."""
    try:
        return core_load_app(path)
    except AppLoadError as exc:
        raise UsageError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pikku-queue-arq", description="Run pikku queues and scheduled tasks on arq."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run a worker for an app's queues")
    worker.add_argument("app", help="the app, as module:attribute")
    worker.add_argument(
        "--queue-name",
        default=None,
        help=f"arq queue (default: the app's ArqQueueService's, else {DEFAULT_QUEUE_NAME})",
    )
    worker.add_argument(
        "--redis-url", default=None, help="redis://host:port/db (default: the app's settings)"
    )
    worker.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    worker.add_argument("--max-jobs", type=int, default=None, help="jobs run at once")
    worker.add_argument("--poll-delay", type=float, default=None, help="seconds between polls")
    worker.add_argument("--job-timeout", type=float, default=None, help="arq's job timeout (s)")
    worker.add_argument("-v", "--verbose", action="store_true", help="log every job")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pikku-queue-arq`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        app = load_app(args.app)
        service = app.queue_service
        queue_name: str = args.queue_name or (
            service.queue_name if isinstance(service, ArqQueueService) else DEFAULT_QUEUE_NAME
        )
        overrides: dict[str, Any] = {}
        if args.redis_url:
            try:
                overrides["redis_settings"] = RedisSettings.from_dsn(args.redis_url)
            except (RuntimeError, ValueError) as exc:
                raise UsageError(f"invalid --redis-url {args.redis_url!r}: {exc}") from None
        for name in ("burst", "max_jobs", "poll_delay", "job_timeout"):
            value = getattr(args, name)
            if value is not None and value is not False:
                overrides[name] = value
        settings = worker_settings(app, queue_name=queue_name, **overrides)
    except (UsageError, ValueError, ImportError, RuntimeError) as exc:
        print(f"pikku-queue-arq: error: {exc}", file=sys.stderr)
        return 2
    logging.config.dictConfig(default_log_config(args.verbose))
    try:
        run_worker(settings)
    except (RedisError, OSError) as exc:
        print(f"pikku-queue-arq: error: Redis is unavailable: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
