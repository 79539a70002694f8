"""Screenshot a report in headless Chromium with the network cut off.

    python scripts/screenshot_report.py report/ [--out report/screenshot.png] [--height 6000]
    python scripts/screenshot_report.py runs/demo/report.html --out docs/run_report.png

A directory means its index.html (a benchmark report); a file is the page itself (e.g. a run's
report.html).
Needs Debian's Chromium (`apt-get install chromium`, /usr/bin/chromium). Every host name
resolves to nothing (--host-resolver-rules), so a page that needed a CDN would render
without it; the report must not. Exits 2 with one line if Chromium is missing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def find_browser() -> str | None:
    """Path of a Chromium-family browser, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(report: Path, out: Path, width: int = 1280, height: int = 6000) -> Path:
    """Render report (a page, or a directory's index.html) to a PNG of the given window size;
    returns the PNG path."""
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError("no Chromium found: install it with `apt-get install chromium`")
    page = Path(report).resolve()
    page = page / "index.html" if page.is_dir() else page
    if not page.is_file():
        raise FileNotFoundError(
            f"{page} not found: give a `sldagent benchmark` --out directory or an HTML file"
        )
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="a report directory (holds index.html) or an HTML file")
    parser.add_argument("--out", help="PNG to write (default beside the page: screenshot.png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=6000)
    args = parser.parse_args()
    where = Path(args.report)
    out = (
        Path(args.out)
        if args.out
        else (where if where.is_dir() else where.parent) / "screenshot.png"
    )
    try:
        path = screenshot(Path(args.report), out, args.width, args.height)
    except (FileNotFoundError, subprocess.CalledProcessError) as err:
        print(f"screenshot_report: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
