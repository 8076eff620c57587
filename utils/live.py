"""A plot that follows BatchNormalization while `fit` runs, in JupyterLab, Colab or headless.

While `fit` runs, each frame is an SVG drawn from the recorded numbers, one to
three milliseconds of work, sent to the notebook up to 20 times a second within a
3% share of the training time. When `fit`
ends, matplotlib draws the last frame once as a PNG: the picture that stays in
the saved notebook, on GitHub and in Colab.
"""

import io
import time
from collections.abc import Callable
from functools import partial
from html import escape

import IPython
import numpy as np
import PIL.Image
from IPython.display import Image, display
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from utils.bn import BatchNormRecorder, mean_gap
from utils.figures.style import BATCH_COLOUR, DPI, MOVING_COLOUR, WRONG_COLOUR

_BATCH = dict(linestyle="none", marker=".", markersize=4, color=BATCH_COLOUR)
_MOVING = dict(linewidth=2, color=MOVING_COLOUR)
_FONT = 11
# What a live frame costs before one is measured: an SVG of a few hundred steps takes 1 to 2 ms.
_FIRST_FRAME_COST = 0.002


class LivePlot(BatchNormRecorder):
    """A `BatchNormRecorder` that draws one channel's statistics as the model trains.

    Top: the batch mean of the channel (points) and its moving mean (line).
    Middle: the same for the variance, on a log scale so that batch variances
    far below the moving variance's starting 1 stay readable. Bottom: the gap
    between batch and moving statistics, averaged over all channels of the
    layer. Statistics that turn NaN or infinite are marked with the step where
    they first did. While `fit` runs the picture is an SVG updated in place, at
    most every `interval` seconds; when it ends, a PNG of the whole run stays.

    Args:
        layer: the BatchNormalization layer to show; the first one by default.
        channel: the channel to show.
        interval: the least time between two live frames, in seconds.
        budget: the largest share of the time since training began that drawing
            may take, however short `interval` is.
        image: an `ipywidgets.Image` to draw into; by default the frames go to
            a display of their own in the notebook (nowhere outside IPython).
        layers: the layers to record, as for `BatchNormRecorder`; all by default.
        clock: where the time comes from, in seconds; the tests pass one they control.

    Attributes:
        frame: the last PNG frame, drawn when `fit` ends or by `show`.
        live_frames: how many SVG frames were sent while `fit` ran.
        drawing_time: the seconds those frames took.
    """

    def __init__(self, layer: str | None = None, channel: int = 0, interval: float = 0.05,
                 budget: float = 0.03, image=None, layers=None,
                 clock: Callable[[], float] = time.perf_counter):
        super().__init__(layers)
        self.layer, self.channel, self.image = layer, channel, image
        self.interval, self.budget, self.clock = interval, budget, clock
        self.frame: bytes | None = None
        self.live_frames, self.drawing_time = 0, 0.0
        self._handle = None
        self.figure = self._build_figure()

    def _build_figure(self) -> Figure:
        figure = Figure(figsize=(8.5, 6.4), dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.subplots(3, 1, sharex=True)
        figure.subplots_adjust(left=0.14, right=0.97, top=0.88, bottom=0.09, hspace=0.45)
        self._lines = {
            "batch_mean": axes[0].plot([], [], **_BATCH, label="batch")[0],
            "moving_mean": axes[0].plot([], [], **_MOVING, label="moving")[0],
            "batch_variance": axes[1].plot([], [], **_BATCH)[0],
            "moving_variance": axes[1].plot([], [], **_MOVING)[0],
            "gap_mean": axes[2].plot([], [], color="#6a4c93", label="mean")[0],
            "gap_variance": axes[2].plot([], [], color="#2a9d8f", label="variance")[0],
        }
        axes[0].set_ylabel("mean", fontsize=_FONT)
        axes[1].set_ylabel("variance\n(log scale)", fontsize=_FONT)
        axes[1].set_yscale("log")
        axes[2].set_ylabel("|batch - moving|\nmean over channels", fontsize=_FONT)
        axes[2].set_xlabel("training step", fontsize=_FONT)
        self._warnings = [ax.text(0.01, 0.95, "", transform=ax.transAxes, va="top", fontsize=_FONT,
                                  color=WRONG_COLOUR, fontweight="bold") for ax in axes]
        for ax in axes:
            ax.tick_params(labelsize=10)
        # Above their panels, not inside them, so that they never hide a point.
        for ax in (axes[0], axes[2]):
            ax.legend(loc="lower right", bbox_to_anchor=(1, 1), fontsize=10, ncol=2, frameon=False,
                      borderaxespad=0.1)
        self._title = figure.suptitle("", fontsize=12)
        self._axes = axes
        return figure

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        names = list(self._layers)
        self.layer = self.layer or names[0]
        self._check_choice(names, self.layer, self.channel)
        self._steps = self.params["epochs"] * self.params["steps"]
        self._handle, self.live_frames = None, 0
        self._start = self._last_draw = self.clock()
        self.drawing_time, self._frame_cost = 0.0, _FIRST_FRAME_COST

    def _check_choice(self, names: list[str], layer: str, channel: int) -> None:
        if layer not in names:
            raise ValueError(
                f"No recorded BatchNormalization layer named {layer!r}; "
                f"the recorded ones are {names}."
            )
        channels = self._layers[layer].moving_mean.shape[0]
        if not 0 <= channel < channels:
            raise ValueError(
                f"Layer {layer!r} has {channels} channels, so channel must be "
                f"0 to {channels - 1}; got {channel}."
            )

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)
        now = self.clock()
        due = now - self._last_draw >= self.interval
        affordable = self.drawing_time + self._frame_cost <= self.budget * (now - self._start)
        if due and affordable and len(self._snapshots) > 1 and self._connected():
            self._show_live()
            self._frame_cost = self.clock() - now
            self.drawing_time += self._frame_cost
            self._last_draw = now

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        self._show()

    def show(self, layer: str | None = None, channel: int | None = None) -> None:
        """Draw again, after training, for another layer or channel."""
        if not self._layers:
            raise RuntimeError("Nothing recorded yet: pass this LivePlot to fit() first.")
        layer = self.layer if layer is None else layer
        channel = self.channel if channel is None else channel
        self._check_choice(list(self._layers), layer, channel)
        self.layer, self.channel = layer, channel
        self._show()

    def _connected(self) -> bool:
        """Whether live frames have somewhere to go: a widget, or a notebook."""
        return self.image is not None or IPython.get_ipython() is not None

    def _title_text(self, steps: int) -> str:
        return f"{self.layer}, channel {self.channel}: step {steps} of {self._steps}"

    def _show_live(self) -> None:
        """Send the steps so far as an SVG frame, to the widget or the notebook display."""
        record = self.statistics(self.layer)
        svg = svg_frame(record, self.channel, self._title_text(len(record["batch_mean"])), self._steps)
        self.live_frames += 1
        if self.image is not None:
            with self.image.hold_sync():
                self.image.format, self.image.value = "svg+xml", svg.encode()
        # Sent raw: IPython's SVG class would parse the document, which costs as much as drawing it.
        elif self._handle is None:
            self._handle = display({"image/svg+xml": svg}, raw=True, display_id=True)
        else:
            self._handle.update({"image/svg+xml": svg}, raw=True)

    def _show(self) -> None:
        """Draw the whole run with matplotlib and show it as the PNG that stays."""
        self.frame = self._render()
        if self.image is not None:
            with self.image.hold_sync():
                self.image.format, self.image.value = "png", self.frame
        elif IPython.get_ipython() is not None:
            if self._handle is None:
                self._handle = display(Image(self.frame, format="png"), display_id=True)
            else:
                self._handle.update(Image(self.frame, format="png"))

    def _render(self) -> bytes:
        """Update the lines from the recorded statistics and return the figure as PNG."""
        record = self.statistics(self.layer)
        steps = np.arange(1, len(record["batch_mean"]) + 1)
        for key in ("batch_mean", "moving_mean", "batch_variance", "moving_variance"):
            self._lines[key].set_data(steps, record[key][:, self.channel])
        for statistic in ("mean", "variance"):
            self._lines[f"gap_{statistic}"].set_data(steps, mean_gap(record, statistic))
        self._title.set_text(self._title_text(len(steps)))
        for ax, warning in zip(self._axes, self._warnings):
            values = np.stack([line.get_ydata() for line in ax.get_lines()])
            broken = np.flatnonzero(~np.isfinite(values).all(axis=0))
            warning.set_text(f"NaN or infinite from step {broken[0] + 1}" if len(broken) else "")
        self._axes[0].set_xlim(0, max(self._steps, len(steps)) + 1)
        self._rescale()
        canvas = self.figure.canvas
        canvas.draw()
        buffer = io.BytesIO()
        PIL.Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(),
                             "raw", "RGBA", 0, 1).save(buffer, format="png", compress_level=1, dpi=(DPI, DPI))
        return buffer.getvalue()

    def _rescale(self) -> None:
        """Fit each panel's y limits to its finite values (positive ones on the log panel)."""
        for ax in self._axes:
            log = ax.get_yscale() == "log"
            low, high = _limits([line.get_ydata() for line in ax.get_lines()], log)
            ax.set_ylim(max(low, 0.0) if ax is not self._axes[0] and not log else low, high)


_WIDTH, _HEIGHT, _LEFT, _RIGHT = 850, 660, 112, 830
# Each panel: (top, bottom) in pixels, the statistic it shows, whether its y axis is logarithmic.
_PANELS = ((62, 212, "mean", False), (262, 412, "variance", True), (470, 620, "gap", False))
_SVG_FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


def _ticks(low: float, high: float, log: bool) -> list[float]:
    """A few round values between `low` and `high` to label an axis with."""
    if log:
        decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
        ticks = [10.0 ** k for k in decades if low <= 10.0 ** k <= high]
        if len(ticks) < 2:  # less than a decade: label 1, 2 and 5 times the powers of ten
            ticks = [m * 10.0 ** k for k in decades for m in (1, 2, 5) if low <= m * 10.0 ** k <= high]
        return ticks
    step = 10 ** np.floor(np.log10((high - low) / 3))
    step *= next(factor for factor in (1, 2, 5, 10) if (high - low) / (step * factor) <= 5)
    # Rounded to the step, and + 0.0 turns a -0.0 into 0.0.
    ticks = np.round(np.arange(np.ceil(low / step), np.floor(high / step) + 1) * step, 12)
    return [float(tick) + 0.0 for tick in ticks]


def _limits(values: list[np.ndarray], log: bool) -> tuple[float, float]:
    """The y range that shows every finite value (positive ones on a log axis), with some room."""
    finite = np.concatenate([v[np.isfinite(v) & ((v > 0) if log else True)] for v in values])
    if not len(finite):
        return (0.1, 10.0) if log else (0.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    if log:
        room = max(high / low, 10.0) ** 0.1
        return low / room, high * room
    margin = max(high - low, 1e-3) * 0.1
    return low - margin, high + margin


def svg_frame(record: dict[str, np.ndarray], channel: int, title: str, steps: int) -> str:
    """One frame of the live plot as SVG: cheap enough to send many times a second.

    Args:
        record: one layer's statistics so far, as `BatchNormRecorder.statistics` returns them.
        channel: the channel drawn in the top two panels.
        title: the line above the panels.
        steps: the number of steps the run will take, the width of the x axis.
    """
    done = len(record["batch_mean"])
    x = _LEFT + (_RIGHT - _LEFT) * np.arange(1, done + 1) / max(steps, 1)
    series = {
        "mean": (record["batch_mean"][:, channel], record["moving_mean"][:, channel]),
        "variance": (record["batch_variance"][:, channel], record["moving_variance"][:, channel]),
        "gap": (mean_gap(record, "mean"), mean_gap(record, "variance")),
    }
    labels = {"mean": ("mean", ""), "variance": ("variance", "(log scale)"),
              "gap": ("|batch - moving|", "mean over channels")}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
             f'viewBox="0 0 {_WIDTH} {_HEIGHT}" {_SVG_FONT} font-size="15">',
             f'<rect width="{_WIDTH}" height="{_HEIGHT}" fill="white"/>',
             f'<text x="{_WIDTH / 2}" y="26" text-anchor="middle" font-size="17">{escape(title)}</text>']
    for top, bottom, name, log in _PANELS:
        first, second = series[name]
        low, high = _limits([first, second], log)
        y = partial(_height, top=top, bottom=bottom, low=low, high=high, log=log)

        parts.append(f'<rect x="{_LEFT}" y="{top}" width="{_RIGHT - _LEFT}" height="{bottom - top}" '
                     'fill="none" stroke="black"/>')
        for tick in _ticks(low, high, log):
            ty = float(y(np.array(tick)))
            parts.append(f'<line x1="{_LEFT - 5}" x2="{_LEFT}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="black"/>'
                         f'<text x="{_LEFT - 8}" y="{ty + 5:.1f}" text-anchor="end">{tick:.3g}</text>')
        label, sublabel = labels[name]
        parts.append(f'<text transform="translate(24,{(top + bottom) / 2}) rotate(-90)" text-anchor="middle">'
                     f'<tspan x="0" dy="{-6 if sublabel else 0}">{escape(label)}</tspan>'
                     f'<tspan x="0" dy="18">{escape(sublabel)}</tspan></text>')
        first_y, second_y = y(first), y(second)
        if name == "gap":
            colours, legend = ("#6a4c93", "#2a9d8f"), ("mean", "variance")
            parts.extend(_polyline(x, values, colour) for values, colour in zip((first_y, second_y), colours))
        else:
            colours, legend = (BATCH_COLOUR, MOVING_COLOUR), ("batch", "moving")
            shown = np.isfinite(first_y)
            dots = _pixels("M%d,%dh0", x[shown], first_y[shown])
            parts.append(f'<g transform="scale(0.1)"><path d="{dots}" stroke="{colours[0]}" stroke-width="50" '
                         'stroke-linecap="round"/></g>')
            parts.append(_polyline(x, second_y, colours[1]))
        if name != "variance":
            parts.append(f'<text x="{_RIGHT - 100}" y="{top - 8}" text-anchor="end" fill="{colours[0]}">'
                         f'&#9679; {legend[0]}</text><text x="{_RIGHT}" y="{top - 8}" text-anchor="end" '
                         f'fill="{colours[1]}">&#9644; {legend[1]}</text>')
        broken = np.flatnonzero(~(np.isfinite(first) & np.isfinite(second)))
        if len(broken):
            parts.append(f'<text x="{_LEFT + 10}" y="{top + 22}" fill="{WRONG_COLOUR}" font-weight="bold">'
                         f'NaN or infinite from step {broken[0] + 1}</text>')
    for tick in _ticks(0, steps, log=False):
        tx = _LEFT + (_RIGHT - _LEFT) * tick / max(steps, 1)
        parts.append(f'<text x="{tx:.1f}" y="{_PANELS[-1][1] + 20}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{(_LEFT + _RIGHT) / 2}" y="{_HEIGHT - 6}" text-anchor="middle">training step</text>')
    parts.append("</svg>")
    return "".join(parts)


def _height(values, top: float, bottom: float, low: float, high: float, log: bool) -> np.ndarray:
    """Where `values` stand in a panel from `top` to `bottom` pixels showing `low` to `high`."""
    scale = np.log10 if log else np.asarray
    with np.errstate(divide="ignore", invalid="ignore"):
        return bottom - (bottom - top) * (scale(values) - scale(low)) / (scale(high) - scale(low))


def _pixels(template: str, x: np.ndarray, y: np.ndarray) -> str:
    """The points written with `template` ("%d,%d" in it), in tenths of a pixel.

    Drawn inside `<g transform="scale(0.1)">`. Integers, and one formatting
    operation for all points, because formatting is most of what a frame costs.
    """
    points = np.empty(2 * len(x), int)
    points[0::2], points[1::2] = np.rint(10 * x), np.rint(10 * y)
    return (template * len(x)) % tuple(points.tolist())


def _polyline(x: np.ndarray, y: np.ndarray, colour: str) -> str:
    """A line through the finite points, broken where a value is NaN or infinite."""
    finite = np.concatenate([[False], np.isfinite(y), [False]])
    edges = np.flatnonzero(finite[1:] != finite[:-1])
    lines = []
    for start, stop in zip(edges[::2], edges[1::2]):
        points = _pixels("%d,%d ", x[start:stop], y[start:stop])
        lines.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="25"/>')
    return f'<g transform="scale(0.1)">{"".join(lines)}</g>'
