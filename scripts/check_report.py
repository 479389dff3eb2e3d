"""Look at a `mmprep report` page in a real browser: a headless Chromium screenshot, checked for content.

    python scripts/check_report.py RUN_DIR/report/report.html [--out screenshot.png] [--height 3600]

Needs Debian's `chromium` package (`apt-get install -y chromium`); the test suite does not (tests/analysis/test_report.py
checks the page's structure and images without a browser). Prints the screenshot's path: open it and look.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.image

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]  # fmt: skip


def screenshot(page: Path, out: Path, width: int, height: int) -> Path:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("no chromium on PATH: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={out.resolve()}",
             f"--window-size={width},{height}", page.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="report.html")
    parser.add_argument("--out", type=Path, help="screenshot path [default: beside the page, screenshot.png]")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=3600)
    args = parser.parse_args()
    out = args.out or args.page.with_name("screenshot.png")
    screenshot(args.page, out, args.width, args.height)
    pixels = matplotlib.image.imread(out)[..., :3]
    # Rows that are not blank: text, tables and figures drawn. A page that failed to load is white (or one colour).
    drawn = (pixels.std(axis=(1, 2)) > 0.01).mean()
    print(f"{out}: {pixels.shape[1]}x{pixels.shape[0]}, {drawn:.0%} of the rows have content")
    if drawn < 0.2:
        sys.exit("the screenshot is mostly blank: the page did not render")


if __name__ == "__main__":
    main()
