"""Plot throughput against batch size from `hetl bench --json` output, as SVG.

One panel per op; one line per backend (and thread count), x = batch size
(log scale), y = ops_per_s. Standard library only, so it runs anywhere:

    hetl bench --backend cpu  --preset n14 --batch 1,8,64 --json >  bench.jsonl
    hetl bench --backend wgpu --preset n14 --batch 1,8,64 --json >> bench.jsonl
    python3 tools/plot_bench.py bench.jsonl --out throughput.svg

Lines without median_us (e.g. the precision report) are ignored.
"""

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

PANEL_W, PANEL_H, MARGIN = 330, 220, 60
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def read_rows(paths):
    rows = []
    for path in paths:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text()
        except OSError as err:
            sys.exit(f"plot_bench.py: cannot read {path}: {err.strerror}")
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                sys.exit(f"plot_bench.py: {path}:{number}: not JSON ({err})")
            if isinstance(row, dict) and "median_us" in row and "ops_per_s" in row and "op" in row:
                rows.append(row)
    if not rows:
        sys.exit("plot_bench.py: no benchmark rows (op, batch, ops_per_s) in the input")
    return rows


def series(rows):
    """{op: {label: [(batch, ops_per_s), ...]}}"""
    out = defaultdict(lambda: defaultdict(list))
    for row in rows:
        label = f"{row.get('backend', '?')} ×{row.get('threads', 1)}t {row.get('preset', '')}".strip()
        out[row["op"]][label].append((row.get("batch", 1), row["ops_per_s"]))
    return out


def panel(op, lines, x0, y0, colours):
    points = [p for pts in lines.values() for p in pts]
    bmin, bmax = min(b for b, _ in points), max(b for b, _ in points)
    ymax = max(v for _, v in points) * 1.1 or 1.0
    lx = lambda b: 0.0 if bmax == bmin else (math.log(b) - math.log(bmin)) / (math.log(bmax) - math.log(bmin))
    sx = lambda b: x0 + MARGIN + lx(b) * (PANEL_W - 2 * MARGIN)
    sy = lambda v: y0 + PANEL_H - MARGIN + (v / ymax) * -(PANEL_H - 2 * MARGIN)
    svg = [f'<text x="{x0 + PANEL_W / 2}" y="{y0 + 20}" text-anchor="middle" font-weight="bold">{op}</text>',
           f'<line x1="{sx(bmin)}" y1="{sy(0)}" x2="{sx(bmax)}" y2="{sy(0)}" stroke="black"/>',
           f'<line x1="{sx(bmin)}" y1="{sy(0)}" x2="{sx(bmin)}" y2="{sy(ymax)}" stroke="black"/>',
           f'<text x="{sx(bmin) - 4}" y="{sy(ymax) + 4}" text-anchor="end" font-size="10">{ymax:.3g}</text>',
           f'<text x="{x0 + PANEL_W / 2}" y="{y0 + PANEL_H - 12}" text-anchor="middle" font-size="10">batch</text>']
    for b in sorted({b for b, _ in points}):
        svg.append(f'<text x="{sx(b)}" y="{sy(0) + 12}" text-anchor="middle" font-size="10">{b}</text>')
    for i, (label, pts) in enumerate(sorted(lines.items())):
        colour = colours[label]
        pts = sorted(pts)
        path = " ".join(f"{sx(b):.1f},{sy(v):.1f}" for b, v in pts)
        svg.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        svg += [f'<circle cx="{sx(b):.1f}" cy="{sy(v):.1f}" r="3" fill="{colour}"/>' for b, v in pts]
    return svg


def render(data):
    labels = sorted({label for lines in data.values() for label in lines})
    colours = {label: COLOURS[i % len(COLOURS)] for i, label in enumerate(labels)}
    cols = min(3, len(data))
    rows = math.ceil(len(data) / cols)
    width, height = cols * PANEL_W, rows * PANEL_H + 20 * len(labels) + 10
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for k, (op, lines) in enumerate(sorted(data.items())):
        svg += panel(op, lines, (k % cols) * PANEL_W, (k // cols) * PANEL_H, colours)
    for i, label in enumerate(labels):
        y = rows * PANEL_H + 20 * i + 15
        svg += [f'<rect x="10" y="{y - 9}" width="12" height="12" fill="{colours[label]}"/>',
                f'<text x="28" y="{y + 1}" font-size="12">{label} (ops/s)</text>']
    svg.append("</svg>")
    return "\n".join(svg)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", default=["-"], help="JSON-lines files ('-' = stdin)")
    parser.add_argument("--out", required=True, help="SVG file to write")
    args = parser.parse_args()
    Path(args.out).write_text(render(series(read_rows(args.files))))
    print(f"plot_bench.py: wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
