"""The command line: `sldagent tasks | data | baseline | evaluate | discover | init-task | export
| rehearse | predict | holdout | report | benchmark | study`."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from sldagent.cli import benchmark, discover, report, runs, study, tasks
from sldagent.law import LawError
from sldagent.task import DataError, DataWarning


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sldagent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (tasks, discover, runs, report, benchmark, study):
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one line on stderr and exit with status 2; data
    warnings print one line `sldagent: warning: ...` each."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always", DataWarning)
        other = warnings.showwarning

        def show(message, category, *rest, **kw) -> None:
            if issubclass(category, DataWarning):
                print(f"sldagent: warning: {message}", file=sys.stderr)
            else:
                other(message, category, *rest, **kw)

        warnings.showwarning = show
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except (DataError, LawError, ValueError) as err:
        print(f"sldagent: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"sldagent: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sldagent: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
