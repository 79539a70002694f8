"""Write (or check) the demo CSV: a Chinchilla-like example whose true law is known.

    python examples/make_demo.py           # writes examples/chinchilla_like.csv and the
                                           # package copy sldagent/examples/chinchilla_like.csv
    python examples/make_demo.py --check   # exit 1 if either file differs from the generator

The formula, constants, noise and seed are documented in sldagent/demo.py (the generator lives
in the package so `sldagent discover --demo` can report the true law's R² too).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sldagent import demo

TARGETS = (Path(__file__).resolve().parent / "chinchilla_like.csv", demo.CSV)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    data = demo.generate().encode()
    runs = data.count(b"\n") - 1
    stale = []
    for path in TARGETS:
        if args.check:
            if not path.is_file() or path.read_bytes() != data:
                stale.append(path)
        else:
            path.write_bytes(data)
            print(f"wrote {path} ({runs} runs)")
    for path in stale:
        print(
            f"{path}: differs from the generator; run python examples/make_demo.py", file=sys.stderr
        )
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
