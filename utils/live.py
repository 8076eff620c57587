"""A plot that follows BatchNormalization while `fit` runs, in JupyterLab, Colab or headless."""

import io
import time

import IPython
import numpy as np
import PIL.Image
from IPython.display import Image, display
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from utils.bn import BatchNormRecorder, mean_gap
from utils.figures import BATCH_COLOUR, DPI, MOVING_COLOUR

_BATCH = dict(linestyle="none", marker=".", markersize=4, color=BATCH_COLOUR)
_MOVING = dict(linewidth=2, color=MOVING_COLOUR)
_FONT = 11


class LivePlot(BatchNormRecorder):
    """A `BatchNormRecorder` that draws one channel's statistics as the model trains.

    Top: the batch mean of the channel (points) and its moving mean (line).
    Middle: the same for the variance, on a log scale so that batch variances
    far below the moving variance's starting 1 stay readable. Bottom: the gap
    between batch and moving statistics, averaged over all channels of the layer. The picture is updated in
    place, at most every `interval` seconds, and the last frame stays.

    Args:
        layer: the BatchNormalization layer to show; the first one by default.
        channel: the channel to show.
        interval: the least time between two redraws, in seconds.
        budget: the largest share of the time since training began that drawing
            may take, however short `interval` is (a frame costs a few
            milliseconds, one that rescales the axes about 50).
        image: an `ipywidgets.Image` to draw into; by default the frames go to
            a display of their own in the notebook (nowhere outside IPython).
        layers: the layers to record, as for `BatchNormRecorder`; all by default.
    """

    def __init__(self, layer: str | None = None, channel: int = 0, interval: float = 1.0,
                 budget: float = 0.03, image=None, layers=None):
        super().__init__(layers)
        self.layer, self.channel, self.image = layer, channel, image
        self.interval, self.budget = interval, budget
        self.frame: bytes | None = None
        self.figure = self._build_figure()

    def _build_figure(self) -> Figure:
        figure = Figure(figsize=(8.5, 6.4), dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.subplots(3, 1, sharex=True)
        figure.subplots_adjust(left=0.14, right=0.97, top=0.88, bottom=0.09, hspace=0.45)
        # Animated artists are left out of a full draw, so they can be redrawn
        # alone over a saved background (blitting): a frame then costs a few ms.
        self._lines = {
            "batch_mean": axes[0].plot([], [], **_BATCH, label="batch", animated=True)[0],
            "moving_mean": axes[0].plot([], [], **_MOVING, label="moving", animated=True)[0],
            "batch_variance": axes[1].plot([], [], **_BATCH, animated=True)[0],
            "moving_variance": axes[1].plot([], [], **_MOVING, animated=True)[0],
            "gap_mean": axes[2].plot([], [], color="#6a4c93", label="mean",
                                     animated=True)[0],
            "gap_variance": axes[2].plot([], [], color="#2a9d8f", label="variance",
                                         animated=True)[0],
        }
        axes[0].set_ylabel("mean", fontsize=_FONT)
        axes[1].set_ylabel("variance\n(log scale)", fontsize=_FONT)
        axes[1].set_yscale("log")
        axes[2].set_ylabel("|batch - moving|\nmean over channels", fontsize=_FONT)
        axes[2].set_xlabel("training step", fontsize=_FONT)
        for ax in axes:
            ax.tick_params(labelsize=10)
        # Two legends, not three: each costs a redraw whenever the axes are rescaled.
        # Above their panels, not inside them, so that they never hide a point.
        for ax in (axes[0], axes[2]):
            ax.legend(loc="lower right", bbox_to_anchor=(1, 1), fontsize=10, ncol=2, frameon=False,
                      borderaxespad=0.1)
        self._title = figure.suptitle("", fontsize=12, animated=True)
        self._axes = axes
        self._background = None
        # A figure's first draw lays out all its text and is the slowest: do it
        # now, outside `fit`, and take its time as the cost of a frame until
        # one is measured.
        start = time.perf_counter()
        figure.canvas.draw()
        self._frame_cost = time.perf_counter() - start
        return figure

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        names = list(self._layers)
        self.layer = self.layer or names[0]
        self._check_choice(names, self.layer, self.channel)
        self._steps = self.params["epochs"] * self.params["steps"]
        self._axes[0].set_xlim(0, self._steps + 1)
        self._background, self._handle = None, None
        self._start = self._last_draw = time.perf_counter()
        self._drawing = 0.0

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
        now = time.perf_counter()
        due = now - self._last_draw >= self.interval
        affordable = self._drawing + self._frame_cost <= self.budget * (now - self._start)
        if due and affordable:
            self._show()
            self._frame_cost = time.perf_counter() - now
            self._drawing += self._frame_cost
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
        self._show(tight=True)

    def _show(self, tight: bool = False) -> None:
        self.frame = self._render(tight)
        if self.image is not None:
            self.image.value = self.frame
        elif IPython.get_ipython() is not None:
            if self._handle is None:
                self._handle = display(Image(self.frame, format="png"), display_id=True)
            else:
                self._handle.update(Image(self.frame, format="png"))

    def _render(self, tight: bool) -> bytes:
        """Update the lines from the recorded statistics and return the frame as PNG.

        Args:
            tight: fit the axes closely to the data (for a frame drawn after
                training); otherwise leave room to grow, so that most frames can
                reuse the background.
        """
        record = self.statistics(self.layer)
        steps = np.arange(1, len(record["batch_mean"]) + 1)
        for key in ("batch_mean", "moving_mean", "batch_variance", "moving_variance"):
            self._lines[key].set_data(steps, record[key][:, self.channel])
        for statistic in ("mean", "variance"):
            self._lines[f"gap_{statistic}"].set_data(steps, mean_gap(record, statistic))
        self._title.set_text(f"{self.layer}, channel {self.channel}: "
                             f"step {len(steps)} of {self._steps}")
        if tight or self._background is None or self._outside_limits():
            self._rescale(room=0.1 if tight else 0.25)
        canvas = self.figure.canvas
        canvas.restore_region(self._background)
        for artist in (*self._lines.values(), self._title):
            self.figure.draw_artist(artist)
        buffer = io.BytesIO()
        PIL.Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(),
                             "raw", "RGBA", 0, 1).save(buffer, format="png", compress_level=1, dpi=(DPI, DPI))
        return buffer.getvalue()

    def _outside_limits(self) -> bool:
        for ax in self._axes:
            low, high = ax.get_ylim()
            for line in ax.get_lines():
                y = line.get_ydata()
                if ax.get_yscale() == "log":
                    y = y[y > 0]
                if len(y) and (np.min(y) < low or np.max(y) > high):
                    return True
        return False

    def _rescale(self, room: float) -> None:
        """Fit the y limits to the data, `room` times its range apart, then save the background."""
        for ax in self._axes:
            values = [line.get_ydata() for line in ax.get_lines() if len(line.get_ydata())]
            if ax.get_yscale() == "log":
                # A log axis shows only positive values: a channel that never fires has variance 0.
                values = [v[v > 0] for v in values if np.any(v > 0)]
            if values:
                low = min(np.min(v) for v in values)
                high = max(np.max(v) for v in values)
                if ax.get_yscale() == "log":
                    factor = (high / low) ** room if high > low else 2.0
                    ax.set_ylim(low / factor, high * factor)
                    continue
                margin = max(high - low, 1e-3) * room
                # Only the mean can be negative; variances and gaps start at 0.
                bottom = low - margin if ax is self._axes[0] else max(low - margin, 0.0)
                ax.set_ylim(bottom, high + margin)
        self.figure.canvas.draw()
        self._background = self.figure.canvas.copy_from_bbox(self.figure.bbox)
