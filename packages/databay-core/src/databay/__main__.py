"""``python -m databay`` and the ``databay`` console script."""

from __future__ import annotations

import sys


def main() -> int:
    """Entry point of the ``databay`` command; returns its exit code."""
    from databay.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
