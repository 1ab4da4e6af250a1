"""Shared code of attnsim's plot scripts (plot_scaling.py, plot_pareto.py, plot_timeline.py,
plot_stalls.py): reading attnsim's CSV files, checking their columns, keeping the points that
simulated, naming variants and hardware, colouring variants the same way in every figure, and
formatting numbers ("1 MiB", "4K", "2.5M").

The scripts import this module from their own directory. Reading and checking need only the Python
standard library; matplotlib (Agg backend) is imported when a figure is drawn, so --help and input
errors stay fast.

Input errors (a missing file, a missing column, a cell that is not a number, no usable rows) raise
InputError; main() turns it into "<script>: error: <file>: <what is wrong>" on stderr and exit
status 2, the status argparse uses for bad command lines.
"""

import argparse
import csv
import math
import os
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim_results as res  # noqa: E402

EXIT_INPUT = res.EXIT_INPUT


class InputError(Exception):
    """The input file (or an option naming part of it) cannot be plotted."""


# ---------------------------------------------------------------------------------------------
# Reading

class Table:
    """A CSV file: its path, header and rows (dicts keyed by column, plus '_line', the line
    number in the file)."""

    def __init__(self, path, header, rows):
        self.path = path
        self.header = header
        self.rows = rows

    def has(self, column):
        return column in self.header

    def require(self, columns, why=None):
        """Raises InputError naming the file and every column of `columns` it lacks."""
        missing = [c for c in columns if c not in self.header]
        if missing:
            names = ", ".join(f"'{c}'" for c in missing)
            noun = "column" if len(missing) == 1 else "columns"
            reason = f" (needed {why})" if why else ""
            raise InputError(f"{self.path}: missing {noun} {names}{reason}; the header has: "
                             + _listing(self.header))

    def require_prefixed(self, prefix, suffix, example, why=None):
        """Columns named prefix<i>suffix (bank0_port_use, ...), ordered by i; at least one."""
        found = []
        for c in self.header:
            if c.startswith(prefix) and c.endswith(suffix):
                middle = c[len(prefix):len(c) - len(suffix)]
                if middle.isdigit():
                    found.append((int(middle), c))
        if not found:
            reason = f" (needed {why})" if why else ""
            raise InputError(f"{self.path}: missing column '{example}' (no {prefix}N{suffix} "
                             f"columns){reason}; the header has: " + _listing(self.header))
        return [c for _, c in sorted(found)]


def _listing(names, limit=40):
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} columns)" if len(names) > limit else "")


def read_table(path):
    """Reads a CSV file with a header row. Raises InputError if it cannot be read or is empty."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            if not header:
                raise InputError(f"{path}: empty file, expected a CSV header row")
            header = [h.strip() for h in header]
            reader.fieldnames = header
            rows = []
            for row in reader:
                if not any((v or "").strip() for k, v in row.items() if k is not None):
                    continue  # blank line
                row["_line"] = reader.line_num
                rows.append(row)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    except (csv.Error, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a readable CSV file: {e}") from None
    return Table(path, header, rows)


def ok_rows(table):
    """The rows whose point simulated: status "ok" (a file without a status column, such as
    `attnsim run`'s report.csv, has only such rows). Returns (those rows, the other rows)."""
    return res.split_by_status(table.rows)


def cell(table, row, column):
    return (row.get(column) or "").strip()


def number(table, row, column):
    """The cell as a float; InputError naming the file, line and column if it is not a number."""
    text = cell(table, row, column)
    try:
        value = float(text)
    except ValueError:
        shown = f"'{text}'" if text else "empty"
        raise InputError(f"{table.path}: line {row['_line']}: column '{column}' is {shown}, "
                         "expected a number") from None
    if math.isnan(value):
        raise InputError(f"{table.path}: line {row['_line']}: column '{column}' is NaN")
    return value


def optional_number(table, row, column):
    """The cell as a float, or None if it is empty or a word such as "absent"."""
    try:
        value = float(cell(table, row, column))
    except ValueError:
        return None
    return None if math.isnan(value) else value


# ---------------------------------------------------------------------------------------------
# Naming points

def first_column(table, *columns):
    """The first of `columns` the file has, or None."""
    for c in columns:
        if table.has(c):
            return c
    return None


def require_one_of(table, columns, why=None):
    """The first of `columns` the file has; InputError naming the first if it has none."""
    c = first_column(table, *columns)
    if c is None:
        table.require([columns[0]], why)
    return c


def variant_label(table, row):
    """The variant with its parameters: axis.variant ("primal:rank=96") when the sweep varied it,
    otherwise the report's base variant name."""
    for c in ("axis.variant", "variant"):
        v = cell(table, row, c)
        if v:
            return v
    return "?"


short_hardware = res.short_hardware  # "preset:edge" -> "edge"; "configs/my_chip.json" -> "my_chip"


def hardware_label(table, row):
    for c in ("hardware", "axis.hardware"):
        v = cell(table, row, c)
        if v:
            return short_hardware(v)
    return "?"


def hardware_matches(label, wanted):
    """True if a --hardware argument names this hardware (short or full name)."""
    return any(label == w or label == short_hardware(w) for w in wanted)


def seq_len(table, row):
    column = "seq_len" if cell(table, row, "seq_len") else "axis.seq_len"
    return int(number(table, row, column))


def add_where(parser):
    parser.add_argument("--where", action="append", default=[], metavar="NAME=VALUE",
                        help="draw only the rows whose sweep axis axis.NAME (or column NAME) "
                             "equals VALUE, e.g. --where bytes_per_bank=65536 --where "
                             "dtype=fp16; repeatable")


def _same(a, b):
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return short_hardware(a) == short_hardware(b)


def apply_where(table, rows, conditions):
    """The rows meeting every NAME=VALUE condition of --where; InputError for an unknown NAME."""
    for cond in conditions:
        name, sep, value = cond.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise InputError(f"--where {cond}: expected NAME=VALUE")
        # A sweep names an axis after its path's last token: /sram/bytes_per_bank -> bytes_per_bank.
        last = name.rstrip("/").rsplit("/", 1)[-1]
        column = first_column(table, "axis." + name, name, "axis." + last, last)
        if column is None:
            raise InputError(f"{table.path}: missing column 'axis.{name}' or '{name}' "
                             f"(named by --where {cond})")
        rows = [r for r in rows if _same(cell(table, r, column), value)]
    return rows


def select_rows(table, rows, failed, where, hardware):
    """(rows, failed) kept to those meeting every --where condition and, when `hardware` (the
    --hardware names) is given, run on that hardware; InputError if no row that simulated is left."""
    rows = apply_where(table, rows, where)
    failed = apply_where(table, failed, where)
    if hardware:
        rows = [r for r in rows if hardware_matches(hardware_label(table, r), hardware)]
        failed = [r for r in failed if hardware_matches(hardware_label(table, r), hardware)]
    if not rows:
        names = sorted({hardware_label(table, r) for r in table.rows})
        raise InputError(f"{table.path}: no rows with status 'ok'"
                         + (f" for hardware {' '.join(hardware)} (the file has: "
                            f"{', '.join(names)})" if hardware else "")
                         + (" meeting --where " + " ".join(where) if where else ""))
    return rows, failed


def varying_axes(table, rows, exclude):
    """axis.* columns, other than those in `exclude`, whose value differs between the rows."""
    out = []
    for c in table.header:
        if c.startswith("axis.") and c not in exclude:
            if len({cell(table, r, c) for r in rows}) > 1:
                out.append(c)
    return out


def axis_suffix(table, row, axes):
    """" sram=65536" style text for the varying axes `axes` of a row."""
    parts = []
    for c in axes:
        name = c[len("axis."):].strip("/").replace("/", ".")
        parts.append(f"{name}={cell(table, row, c)}")
    return (" " + " ".join(parts)) if parts else ""


# ---------------------------------------------------------------------------------------------
# Colours and markers

# One colour per attention variant, the same in every figure.
VARIANT_COLOURS = {
    "flash": "#1f77b4",
    "unfused": "#d62728",
    "row_fused": "#ff7f0e",
    "primal": "#2ca02c",
    "primal_causal": "#bcbd22",
    "lowrank_linear": "#9467bd",
    "linformer": "#8c564b",
    "performer": "#e377c2",
    "nystromformer": "#17becf",
}
_OTHER_COLOURS = ["#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"]

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", ":", "-."]


def base_variant(label):
    """"primal:rank=96" -> "primal"; also the variant at the start of a longer line label."""
    words = label.split(":", 1)[0].split()
    return words[0] if words else ""


def _mix(colour, toward, amount):
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    t = 255 if toward == "white" else 0
    r, g, b = (round(x + (t - x) * amount) for x in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


def variant_colour(label):
    base = base_variant(label)
    if base in VARIANT_COLOURS:
        return VARIANT_COLOURS[base]
    return _OTHER_COLOURS[zlib.crc32(base.encode()) % len(_OTHER_COLOURS)]


def variant_colours(labels):
    """Colour of each variant label: its base variant's colour; labels sharing a base variant
    ("primal:rank=64", "primal:rank=128") get darker to lighter shades of it."""
    by_base = {}
    for label in sorted(set(labels), key=variant_sort_key):
        by_base.setdefault(base_variant(label), []).append(label)
    out = {}
    for base, group in by_base.items():
        colour = variant_colour(group[0])
        if len(group) == 1:
            out[group[0]] = colour
            continue
        for i, label in enumerate(group):
            t = i / (len(group) - 1)  # 0 .. 1: darker .. lighter
            out[label] = _mix(colour, "black", 0.35 * (1 - 2 * t)) if t < 0.5 \
                else _mix(colour, "white", 0.45 * (2 * t - 1))
    return out


_VARIANT_ORDER = list(VARIANT_COLOURS)


def variant_sort_key(label):
    base = base_variant(label)
    rank = _VARIANT_ORDER.index(base) if base in _VARIANT_ORDER else len(_VARIANT_ORDER)
    return (rank, base, label)


def hardware_styles(names, styles):
    """Assigns `styles` (markers or line styles) to hardware names in first-seen order."""
    out = {}
    for n in names:
        if n not in out:
            out[n] = styles[len(out) % len(styles)]
    return out


# ---------------------------------------------------------------------------------------------
# Numbers

def _trim(value, digits):
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _short(value):
    if value >= 100:
        return _trim(value, 0)
    if value >= 10:
        return _trim(value, 1)
    return _trim(value, 2)


def fmt_bytes(n):
    """1048576 -> "1 MiB", 1536 -> "1.5 KiB", 100 -> "100 B"."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{_short(n)} {unit}"
        n /= 1024
    return f"{_short(n)} TiB"


def fmt_seq(n):
    """A sequence length or PE count, in binary thousands: 4096 -> "4K", 1536 -> "1.5K",
    1048576 -> "1M", 100 -> "100"."""
    n = float(n)
    if abs(n) >= 1024 * 1024:
        return _short(n / (1024 * 1024)) + "M"
    if abs(n) >= 1024:
        return _short(n / 1024) + "K"
    return _short(n)


def fmt_si(n):
    """A count such as cycles, in decimal thousands: 4690974 -> "4.69M", 250 -> "250"."""
    n = float(n)
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return _short(n / scale) + unit
    return _short(n)


# ---------------------------------------------------------------------------------------------
# Command line and drawing

def parser(prog_doc, epilog, default_out):
    """An argparse parser with the options every script has: -o/--out, --dpi, --size."""
    p = argparse.ArgumentParser(description=prog_doc, epilog=epilog,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", default=default_out, metavar="FILE",
                   help=f"output image (default: {default_out}); the format follows the "
                        "extension: .png, .svg, .pdf, ...")
    p.add_argument("--dpi", type=_positive_int, default=130,
                   help="resolution of raster images in dots per inch (default: 130)")
    p.add_argument("--size", type=_size, metavar="WxH",
                   help="figure size in inches, e.g. 12x7 (default: chosen from the content)")
    return p


def _positive_int(text):
    try:
        value = int(text)
        if value <= 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return value


def _size(text):
    try:
        w, h = (float(x) for x in text.lower().split("x"))
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not WIDTHxHEIGHT in inches, e.g. 12x7")
    return (w, h)


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed), with readable font sizes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "figure.titlesize": 13,
        "axes.grid": True,
        "grid.alpha": 0.3,
    })
    return plt


# The formats matplotlib's Agg canvas writes.
IMAGE_FORMATS = ("eps", "jpeg", "jpg", "pdf", "pgf", "png", "ps", "raw", "rgba", "svg", "svgz",
                 "tif", "tiff", "webp")


def output_format(args):
    """The image format of args.out from its extension (png without one); InputError if unknown.
    Scripts call it before reading their input, so a typo fails before any drawing."""
    ext = os.path.splitext(args.out)[1].lower().lstrip(".")
    if ext and ext not in IMAGE_FORMATS:
        raise InputError(f"{args.out}: unknown image format '.{ext}'; use one of: "
                         + ", ".join("." + e for e in IMAGE_FORMATS))
    return ext or "png"


def suptitle(fig, table, rows, failed, title):
    """The figure's title: `title`, the model when all rows share one, and the failed points left out."""
    models = sorted({cell(table, r, "model") for r in rows} - {""})
    if len(models) == 1:
        title += f" — {short_hardware(models[0])}"
    if failed:
        title += f"   ({len(failed)} failed point{'s' if len(failed) != 1 else ''} not drawn)"
    fig.suptitle(title)


def save(fig, args):
    """Writes the figure to args.out; the format follows the extension (PNG without one)."""
    out = args.out
    fmt = output_format(args)
    parent = os.path.dirname(out)
    if parent:
        os.makedirs(parent, exist_ok=True)
    try:
        fig.savefig(out, dpi=args.dpi, format=fmt)
    except OSError as e:
        raise InputError(f"{out}: cannot write: {e.strerror or e}") from None


def _count_locator_class():
    from matplotlib.ticker import LogLocator

    class CountLocator(LogLocator):
        """Decimal log ticks at 1 per decade over wide ranges, at 1, 2, 5 over narrow ones, so
        that an axis spanning less than a decade still has labelled ticks."""

        def tick_values(self, vmin, vmax):
            if vmin > 0 and vmax > 0:
                span = abs(math.log10(vmax / vmin))
                self.set_params(subs=(1.0,) if span >= 2.5 else (1.0, 2.0, 5.0) if span >= 0.6
                                else (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0))
            return super().tick_values(vmin, vmax)

    return CountLocator


def _CountLocator():
    return _count_locator_class()(base=10)


def log_count_axis(ax, which, values=None, binary=False):
    """A log axis labelled 250, 10K, 1M (decimal) or 256, 1K, 4K (binary, at `values` if given)."""
    from matplotlib.ticker import (FixedLocator, FuncFormatter, LogLocator, NullFormatter,
                                   NullLocator)
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    fmt = fmt_seq if binary else fmt_si
    if values:
        axis.set_major_locator(FixedLocator(sorted(set(values))))
        axis.set_minor_locator(NullLocator())
    elif binary:
        axis.set_major_locator(LogLocator(base=2, numticks=10))
        axis.set_minor_locator(NullLocator())
    else:
        axis.set_major_locator(_CountLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    axis.set_minor_formatter(NullFormatter())


def log_energy_axis(ax, which):
    """A log axis of energies given in picojoules, labelled in joules: "2.5 mJ", "40 uJ"."""
    from matplotlib.ticker import FuncFormatter, NullFormatter
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(_CountLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _: res.fmt_energy_pj(v, 2)))
    axis.set_minor_formatter(NullFormatter())


def log_bytes_axis(ax, which, values=None):
    """A log axis in bytes, ticks at powers of two (or at `values`), labelled "64 KiB", "1 MiB"."""
    from matplotlib.ticker import (FixedLocator, FuncFormatter, LogLocator, NullFormatter,
                                   NullLocator)
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=2)
    if values:
        axis.set_major_locator(FixedLocator(sorted(set(values))))
    else:
        axis.set_major_locator(LogLocator(base=2, numticks=9))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt_bytes(v)))
    axis.set_minor_formatter(NullFormatter())


def main(run, argv=None):
    """Runs a script's run(argv); an InputError becomes a message and exit status 2."""
    prog = os.path.basename(sys.argv[0])
    try:
        run(sys.argv[1:] if argv is None else argv)
    except InputError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(EXIT_INPUT)
    except BrokenPipeError:  # stdout closed early (| head): not an error of the plot
        sys.stderr.close()


# ---------------------------------------------------------------------------------------------
# Point labels that do not overlap

def freeze_layout(fig):
    """Draws the figure once so that the layout engine fixes every axes' position, then turns the
    engine off: labels placed afterwards in display coordinates stay where they were put."""
    fig.canvas.draw()
    fig.set_layout_engine("none")


def _overlap(a, b):
    """Area shared by two rectangles (x0, y0, x1, y1) in pixels."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(fig, ax, labels, marker_radius_pt=5.0, gap_pt=5.0, max_rows=14):
    """Writes `labels`, dicts {x, y, text, gid, style (keyword arguments of annotate)}, in the
    order given (the most important first), each as an annotation of its point (x, y) in data
    coordinates. Each goes to the first place around its point where its box overlaps no label
    already placed, no point of `ax` and not the legend, and stays inside the axes: right of the
    point, left, above, below, the four diagonals, then further right or left and up to
    `max_rows` text heights up or down, joined to its point by a thin leader line. A label that fits nowhere goes where it
    overlaps least. Call after the axis limits are final and freeze_layout(fig).

    Returns (annotations, number of labels that overlap something)."""
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0  # pixels per point
    frame = ax.get_window_extent(renderer)
    frame = (frame.x0, frame.y0, frame.x1, frame.y1)
    r = marker_radius_pt * px
    markers = []
    for coll in ax.collections:
        for x, y in ax.transData.transform(coll.get_offsets()):
            markers.append((x - r, y - r, x + r, y + r))
    placed, annotations, crowded = [], [], 0
    legend = ax.get_legend()
    if legend is not None:  # the legend counts as a label placed before
        b = legend.get_window_extent(renderer)
        placed.append((b.x0, b.y0, b.x1, b.y1))
    for label in labels:
        style = dict(label.get("style", {}))
        probe = ax.text(0, 0, label["text"], fontsize=style.get("fontsize"),
                        fontweight=style.get("fontweight"), transform=None)
        box = probe.get_window_extent(renderer)
        probe.remove()
        pad = 2.0 * px  # the rounded box around the text, and a little air
        w, h = box.width + 2 * pad, box.height + 2 * pad
        px_x, px_y = ax.transData.transform((label["x"], label["y"]))
        d = gap_pt
        step = h / px + 1.0  # a text height in points
        # (dx, dy) in points: where the label's anchor goes; ha/va: how the box hangs from it
        candidates = [(d, 0, "left", "center"), (-d, 0, "right", "center"),
                      (0, d, "center", "bottom"), (0, -d, "center", "top"),
                      (d, d, "left", "bottom"), (d, -d, "left", "top"),
                      (-d, d, "right", "bottom"), (-d, -d, "right", "top")]
        for k in range(1, max_rows + 1):
            for sign in (1, -1):
                candidates += [(3 * d, sign * k * step, "left", "center"),
                               (-3 * d, sign * k * step, "right", "center")]
        best = None
        for dx, dy, ha, va in candidates:
            ax_ = px_x + dx * px
            ay_ = px_y + dy * px
            x0 = ax_ if ha == "left" else ax_ - w if ha == "right" else ax_ - w / 2
            y0 = ay_ if va == "bottom" else ay_ - h if va == "top" else ay_ - h / 2
            rect = (x0, y0, x0 + w, y0 + h)
            if rect[0] < frame[0] or rect[1] < frame[1] or rect[2] > frame[2] or rect[3] > frame[3]:
                continue
            cost = sum(_overlap(rect, o) for o in placed) + sum(_overlap(rect, m) for m in markers)
            if best is None or cost < best[0]:
                best = (cost, dx, dy, ha, va, rect)
            if cost == 0:
                break
        if best is None:  # nowhere inside the axes: right of the point, whatever it covers
            best = (1.0, d, 0, "left", "center", (px_x, px_y, px_x + w, px_y + h))
        cost, dx, dy, ha, va, rect = best
        crowded += cost > 0
        placed.append(rect)
        far = abs(dx) > d or abs(dy) > d
        if far:
            style.setdefault("arrowprops", dict(arrowstyle="-", color="0.55", linewidth=0.5,
                                                shrinkA=0, shrinkB=marker_radius_pt - 1))
        a = ax.annotate(label["text"], (label["x"], label["y"]), xytext=(dx, dy),
                        textcoords="offset points", ha=ha, va=va, zorder=6, **style)
        a.set_gid(label.get("gid"))
        a.set_in_layout(False)
        annotations.append(a)
    return annotations, crowded


def text_boxes_overlap(fig, artists):
    """Pairs of `artists` (texts or annotations) whose drawn boxes overlap, as index pairs; for
    tests and warnings."""
    from matplotlib.text import Text
    fig.canvas.draw()  # annotations find their places when drawn
    renderer = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(a, renderer) for a in artists]  # the text, not its leader
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
            if _overlap((boxes[i].x0, boxes[i].y0, boxes[i].x1, boxes[i].y1),
                        (boxes[j].x0, boxes[j].y0, boxes[j].x1, boxes[j].y1)) > 0]
