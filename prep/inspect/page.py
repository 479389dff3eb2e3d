"""DIR/index.html of `mmprep inspect`: one self-contained page (images inline, no script, font or stylesheet from
elsewhere), so it can be moved, mailed or opened offline.

From the top: what was inspected and how many videos each flag caught; per split, the median figures; the
figures' distributions per split with the flags' thresholds; the worst videos, each with a strip of frames
and its skeleton; then every video, the flagged ones first.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..store import Store
from .flags import FLAGS, Thresholds, jitter_share, worst_first
from .plots import distributions
from .skeleton import COLOURS
from .strip import make_strip

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans CJK SC", sans-serif; margin: 0 auto;
       max-width: 1280px; padding: 24px; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h3 { margin: 1.4em 0 0.3em; font-size: 1.05em; } .meta { color: #555; }
img.figure { max-width: 100%; border: 1px solid #eee; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; } .flag { color: #c0392b; font-weight: 600; }
.note { background: #fff8e1; padding: 6px 12px; } .strip { display: flex; flex-wrap: wrap; gap: 4px; }
.strip figure { margin: 0; } .strip figcaption { font-size: 0.8em; color: #555; text-align: center; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border: 1px solid #333; vertical-align: middle; }
"""
PARTS = {"POSE": "pose", "FACE": "face", "LEFT_HAND": "left hand", "RIGHT_HAND": "right hand"}


def _e(value) -> str:
    return html.escape(str(value))


def _percent(share: float) -> str:
    return f"{100 * share:.0f} %"


def _image(data: bytes, kind: str, alt: str, css: str = "") -> str:
    source = f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"
    return f'<img src="{source}" alt="{_e(alt)}"' + (f' class="{css}"' if css else "") + ">"


def _flags(flags: list[str]) -> str:
    return " ".join(f'<span class="flag">{_e(f)}</span>' for f in flags) or '<span class="meta">no flag</span>'


def _summary(report: dict, thresholds: Thresholds) -> str:
    skipped = ", ".join(f"{k} {v}" for k, v in report["not_inspected"].items() if v)
    lines = [
        f"<p>{report['n_videos']} videos inspected (splits: {_e(', '.join(report['splits']))}); "
        f"<strong>{report['flagged']['total']} flagged</strong>."
    ]
    if skipped:
        lines.append(f" Not inspected, having no poses: {_e(skipped)} (<code>mmprep info</code> lists them).")
    lines.append('</p><table><tr><th class="text">flag</th><th class="text">raised by</th><th>videos</th></tr>')
    lines += [
        f'<tr><td class="text flag">{f}</td><td class="text">{_e(thresholds.describe(f))}</td>'
        f"<td>{report['flagged'][f]}</td></tr>"
        for f in FLAGS
    ]
    return "\n".join(lines) + "</table>"


def _parts(videos: list[dict]) -> list[str]:
    """The layout's parts, as the records name them."""
    return list(videos[0]["found"]) if videos else list(PARTS)


def _per_split(report: dict) -> str:
    parts = _parts(report["videos"])
    head = "".join(f"<th>{_e(PARTS.get(p, p.lower()))}</th>" for p in parts)
    rows = [f"<tr><th>split</th><th>videos</th><th>flagged</th>{head}<th>no hand</th><th>longest with no hand</th>"
            "<th>signer size</th><th>jitter steps</th></tr>"]  # fmt: skip
    for split in report["splits"]:
        videos = [v for v in report["videos"] if v["split"] == split]
        if not videos:
            continue
        sizes = [v["signer_size"] for v in videos if v["signer_size"] is not None]
        steps = sum(v["jitter"]["steps"] for v in videos if v["jitter"])
        outliers = sum(v["jitter"]["outliers"] for v in videos if v["jitter"])
        cells = [len(videos), sum(bool(v["flags"]) for v in videos)]
        cells += [_percent(np.median([v["found"][p] for v in videos])) for p in parts]
        cells += [_percent(np.median([v["no_hand"] for v in videos])),
                  f"{np.median([v['longest_no_hand']['seconds'] for v in videos]):.2f} s",
                  f"{np.median(sizes):.2f}" if sizes else "n/a",
                  f"{outliers} of {steps}" + (f" ({_percent(outliers / steps)})" if steps else "")]  # fmt: skip
        rows.append(f'<tr><td class="text">{_e(split)}</td>' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        "<p>Medians over each split's videos (jitter: the steps of all its videos together).</p><table>"
        + "".join(rows)
        + "</table>"
    )


def _figures(v: dict) -> str:
    found = ", ".join(f"{PARTS.get(p, p.lower())} {_percent(s)}" for p, s in v["found"].items())
    size = "n/a" if v["signer_size"] is None else f"{v['signer_size']:.2f}"
    jitter = "n/a" if v["jitter"] is None else f"{v['jitter']['outliers']} of {v['jitter']['steps']} steps"
    return (
        f"{_e(v['split'])}, {v['n_frames']} frames at {v['fps']:.2f} fps, {v['width']}x{v['height']}; found: {found}; "
        f"no hand {_percent(v['no_hand'])}, longest {v['longest_no_hand']['frames']} frames "
        f"({v['longest_no_hand']['seconds']:.2f} s); signer size {size}; jitter {jitter}"
    )


def _legend() -> str:
    names = {"LEFT_HAND": "left hand", "RIGHT_HAND": "right hand", "POSE": "pose", "FACE": "face outline"}
    return "<p>" + " &nbsp; ".join(
        f'<span class="swatch" style="background: rgb{COLOURS[k]}"></span> {v}' for k, v in names.items()
    ) + "</p>"  # fmt: skip


def _worst(store: Store, worst: list[dict], progress: bool) -> str:
    parts = [_legend()]
    for v in tqdm(worst, unit="video", desc="strips", disable=not progress or None):
        strip = make_strip(store, v["id"])
        parts.append(f"<h3>{_e(v['id'])} &nbsp; {_flags(v['flags'])}</h3><p class='meta'>{_figures(v)}</p>")
        if strip.plain:
            parts.append(f'<p class="note">On a plain background: {_e(strip.plain)}.</p>')
        thumbs = [
            f"<figure>{_image(jpeg, 'jpeg', f'frame {k}')}<figcaption>frame {k} &middot; {t:.2f} s</figcaption></figure>"
            for k, t, jpeg in zip(strip.frames, strip.times, strip.jpegs, strict=True)
        ]
        parts.append('<div class="strip">' + "".join(thumbs) + "</div>")
    return "\n".join(parts)


def _table(videos: list[dict]) -> str:
    parts = _parts(videos)
    head = "".join(f"<th>{_e(PARTS.get(p, p.lower()))}</th>" for p in parts)
    rows = [f"<tr><th>id</th><th>split</th><th>frames</th><th>fps</th><th>size</th>{head}<th>no hand</th>"
            "<th>longest with no hand</th><th>signer size</th><th>jitter</th><th>flags</th></tr>"]  # fmt: skip
    for v in videos:
        cells = [v["n_frames"], f"{v['fps']:.2f}", f"{v['width']}x{v['height']}"]
        cells += [_percent(v["found"][p]) for p in parts]
        cells += [_percent(v["no_hand"]), f"{v['longest_no_hand']['seconds']:.2f} s",
                  "n/a" if v["signer_size"] is None else f"{v['signer_size']:.2f}",
                  "n/a" if v["jitter"] is None else _percent(jitter_share(v))]  # fmt: skip
        rows.append(
            f'<tr><td class="text">{_e(v["id"])}</td><td class="text">{_e(v["split"])}</td>'
            + "".join(f"<td>{c}</td>" for c in cells)
            + f'<td class="text">{_flags(v["flags"])}</td></tr>'
        )
    return "<table>" + "".join(rows) + "</table>"


def write_page(store: Store, report: dict, worst: list[dict], thresholds: Thresholds, path: Path,
               progress: bool = False) -> None:  # fmt: skip
    ordered = worst_first(report["videos"])
    flagged = [v for v in ordered if v["flags"]]
    others = [v for v in ordered if not v["flags"]]
    parts = [
        f"<h1>Keypoint quality: {_e(report['store'])}</h1>",
        f'<p class="meta">mmprep inspect {_e(report["toolkit_version"])}, {_e(report["created"])} &middot; layout '
        f"{_e(report['layout'])}; a point counts at confidence {report['min_confidence']:g} or more</p>",
        _summary(report, thresholds),
        "<h2>Per split</h2>",
        _per_split(report),
        _image(distributions(report["videos"], report["splits"], thresholds), "png", "distributions", "figure"),
        f"<h2>The {len(worst)} worst videos</h2>",
        _worst(store, worst, progress) if worst else "<p>No video was inspected.</p>",
        f"<h2>Flagged videos ({len(flagged)})</h2>",
        _table(flagged) if flagged else "<p>None.</p>",
        f"<details><summary>The other {len(others)} videos</summary>{_table(others)}</details>" if others else "",
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>mmprep inspect: {_e(report['store'])}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )
    path.write_text(page, encoding="utf-8")
