"""``python -m databay_celery beat|worker PIPELINE``: run one role of a pipeline file.

The same as ``databay run PIPELINE --planner CeleryPlanner --role beat|worker``;
the broker comes from ``$DATABAY_CELERY_BROKER`` (or ``$CELERY_BROKER_URL``).
Exit codes: 0 stopped by a signal, 1 stopped by a failure, 2 a bad pipeline file or
setting, or a second beat refused.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m databay_celery",
        description="Run the beat or a worker of a databay pipeline on Celery.")
    parser.add_argument("role", choices=("beat", "worker"))
    parser.add_argument("pipeline", help="the pipeline file (the same on every host)")
    parser.add_argument("--standby", action="store_true",
                        help="beat: wait to take over from the running beat instead of "
                             "refusing to start")
    parser.add_argument("--pool", choices=("threads", "solo"), default="threads",
                        help="worker: the Celery pool (default threads)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="worker: transfers run at once (default: one per link, at "
                             "most 30)")
    parser.add_argument("--hostname", help="worker: the Celery node name")
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # this is a program's entry point: it may configure the root logger (databay's
    # own stderr handler stays quiet while the root logger has one)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    logging.getLogger("databay").setLevel(args.log_level)
    from databay.redact import RedactingFilter, redact_text

    for handler in logging.getLogger().handlers:  # no secret in any logger's lines
        handler.addFilter(RedactingFilter())

    from databay.errors import DatabayError
    from databay.pipeline import PipelineError

    from databay_celery._beat import BeatLockedError
    from databay_celery._planner import CeleryPlanner

    try:
        kwargs = {"standby": args.standby} if args.role == "beat" else {
            "pool": args.pool, "concurrency": args.concurrency, "hostname": args.hostname}
        planner = CeleryPlanner.from_pipeline(args.pipeline, role=args.role, **kwargs)
        planner.start()
    except PipelineError as exc:
        for error in exc.errors:
            print(f"databay-celery: error: {redact_text(str(error))}", file=sys.stderr)
        return 2
    except (BeatLockedError, ValueError, TypeError) as exc:
        print(f"databay-celery: error: {redact_text(str(exc))}", file=sys.stderr)
        return 2
    except DatabayError as exc:
        print(f"databay-celery: error: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
