"""Interactive panels; each works on ipywidgets 7.7 (Colab) and 8."""

import time

import ipywidgets as widgets
import numpy as np
from IPython.display import display

from utils.bn import batchnorm_layers
from utils.coupling import output_in_batch
from utils.figures.shift import plot_repairs, plot_samples
from utils.figures.why_batchnorm import plot_batch_mates
from utils.freezing import FLAG_LAYERS, one_step
from utils.live import LivePlot
from utils.models import build_functional
from utils.probes import matrix_frame
from utils.session import seed_everything
from utils.shift import CORRUPTIONS, SEVERITIES, corrupt

_ALL = "(all)"


class Panel(widgets.VBox):
    """A column of widgets whose text form says what it is and that it needs a running kernel.

    The text form is what a reader sees where no kernel runs (GitHub, a notebook opened
    before running it), in place of the widget's Python repr.

    Args:
        children: the widgets, top to bottom.
        note: one sentence of at most 110 characters (ipywidgets cuts the text form there).
    """

    def __init__(self, children: list[widgets.Widget], note: str):
        if len(note) > 110:
            raise ValueError(f"a panel's note is cut at 110 characters; this one has {len(note)}: {note!r}")
        super().__init__(children)
        self._note = note

    def __repr__(self) -> str:
        return self._note


def matrix_explorer(rows: list[dict]) -> Panel:
    """A filterable view of the behaviour matrix: pick a scenario, a call, or both.

    Args:
        rows: what `behaviour_matrix()` returned.

    Returns:
        A panel with two dropdowns above the table of matching rows.
    """
    frame = matrix_frame(rows)
    scenario = widgets.Dropdown(
        options=[_ALL, *frame["scenario"].unique()], value=_ALL, description="scenario"
    )
    call = widgets.Dropdown(options=[_ALL, *frame["call"].unique()], value=_ALL,
                            description="call")
    table = widgets.Output()

    def redraw(_=None):
        shown = frame
        if scenario.value != _ALL:
            shown = shown[shown["scenario"] == scenario.value]
        if call.value != _ALL:
            shown = shown[shown["call"] == call.value]
        table.clear_output(wait=True)
        with table:
            display(shown.reset_index(drop=True))

    scenario.observe(redraw, names="value")
    call.observe(redraw, names="value")
    redraw()
    return Panel([widgets.HBox([scenario, call]), table],
                 f"Matrix explorer: filter the {len(frame)} measured rows by scenario and call "
                 "(needs a running kernel).")


class BatchNormExplorer:
    """Train the seed model briefly and watch its BatchNormalization layers.

    The model has a second BatchNormalization layer after the convolution, to
    compare with. Choosing a layer redraws the last run on that layer's busiest
    channel (the largest batch variance), choosing a channel redraws that one;
    choosing a momentum or a batch size trains a new model (same seed) and draws
    it live.

    Args:
        x, y: the training data; repeated if `steps` batches need more.
        steps: training steps per run.

    Attributes:
        widget: the panel to display.
        live: the `LivePlot` of the last run (its `frame` is the picture shown).
    """

    def __init__(self, x, y, steps: int = 60):
        self.x, self.y, self.steps = x, y, steps
        self.layer = widgets.Dropdown(options=["batchnorm", "conv_batchnorm"],
                                      description="layer")
        self.channel = widgets.IntSlider(value=0, min=0, max=63, description="channel",
                                         continuous_update=False)
        self.momentum = widgets.Dropdown(options=[0.9, 0.99, 0.999], value=0.99,
                                         description="momentum")
        self.batch_size = widgets.Dropdown(options=[2, 4, 16, 32, 64], value=32,
                                           description="batch size")
        self.image = widgets.Image(format="png")
        self.status = widgets.Label()
        self.widget = Panel([
            widgets.HBox([self.layer, self.channel]),
            widgets.HBox([self.momentum, self.batch_size]),
            self.status,
            self.image,
        ], f"BatchNormalization explorer: layer, channel; momentum, batch size retrain {steps} steps "
           "(needs a running kernel).")
        self.layer.observe(self.show_busiest_channel, names="value")
        self.channel.observe(self.redraw, names="value")
        self.momentum.observe(self.train, names="value")
        self.batch_size.observe(self.train, names="value")
        self.train()
        self.show_busiest_channel()

    def train(self, _=None) -> None:
        """Train a new model with the chosen momentum and batch size, drawing as it goes."""
        batch_size, momentum = self.batch_size.value, self.momentum.value
        self.status.value = (f"training {self.steps} steps, batch size {batch_size}, "
                             f"momentum {momentum} ...")
        start = time.perf_counter()
        seed_everything(0)
        model = build_functional(conv_batchnorm=True)
        for layer in batchnorm_layers(model):
            layer.momentum = momentum
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        count = self.steps * batch_size
        x = np.resize(self.x, (count, *self.x.shape[1:]))
        y = np.resize(self.y, count)
        # A larger drawing budget than in a plain run: here someone is waiting to watch.
        self.live = LivePlot(self.layer.value, self.channel.value, budget=0.1, image=self.image)
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0,
                  callbacks=[self.live])
        self.status.value = (f"trained {self.steps} steps, batch size {batch_size}, "
                             f"momentum {momentum}, in {time.perf_counter() - start:.1f} s")

    def show_busiest_channel(self, _=None) -> None:
        """Show the chosen layer's channel whose batch variance is largest: one worth watching."""
        record = self.live.history[self.layer.value]
        last = record["batch_variance"].shape[1] - 1
        busiest = int(record["batch_variance"].mean(axis=0).argmax())
        # The slider clamps its value to its range, and each change redraws: widen the
        # range before moving the value, narrow it after, so that the picture is drawn once.
        self.channel.max = max(self.channel.max, last)
        if busiest == self.channel.value:
            self.redraw()
        else:
            self.channel.value = busiest  # observed: redraws
        self.channel.max = last

    def redraw(self, _=None) -> None:
        """Draw the last run again for the chosen layer and channel."""
        channels = self.live.history[self.layer.value]["batch_mean"].shape[1]
        self.channel.max = channels - 1
        self.live.show(self.layer.value, self.channel.value)


class FlagsPanel:
    """Toggle `trainable` per layer and pick the call's `training`, then run one training step.

    The model is `utils.freezing.flags_model()`: Dense, Dropout,
    BatchNormalization, Dense. Each press of the button builds it afresh with
    the chosen flags, runs one hand-written step and shows what changed, per layer.

    Attributes:
        widget: the panel to display.
        result: the table of the last step (see `utils.freezing.one_step`).
    """

    def __init__(self):
        # Not indented and only as wide as their labels, so that all four fit on a projector's line.
        self.trainable = {name: widgets.Checkbox(value=True, description=f"{name} trainable", indent=False,
                                                 layout=widgets.Layout(width="auto", margin="0 24px 0 0"))
                          for name in FLAG_LAYERS}
        self.training = widgets.ToggleButtons(options=["None", "True", "False"],
                                              description="training=")
        # Wide enough for its label at any screen size: the default width cuts it short.
        self.button = widgets.Button(description="Run one training step", button_style="primary",
                                     layout=widgets.Layout(width="auto"))
        self.output = widgets.Output()
        self.widget = Panel([
            widgets.HBox(list(self.trainable.values())),
            self.training,
            self.button,
            self.output,
        ], "Flags panel: freeze layers, pick training, run one hand-written training step (needs a running kernel).")
        self.button.on_click(self.step)
        self.step()

    def step(self, _=None) -> None:
        """Run one training step with the chosen flags and show what it changed."""
        training = {"None": None, "True": True, "False": False}[self.training.value]
        self.result, output_changed = one_step(
            {name: box.value for name, box in self.trainable.items()}, training)
        self.output.clear_output(wait=True)
        with self.output:
            display(self.result)
            print(f"model(x, training={training}) in one training step; the model's "
                  f"inference output {'changed' if output_changed else 'did NOT change'}.")


_MIX = "a random mix"


def batch_mate_choices(x: np.ndarray, y: np.ndarray, kind: str, count: int, seed: int = 0) -> np.ndarray:
    """`count` images of `x` to put in a batch with another: of one digit (`kind` "0" to "9"), or a random mix."""
    if not 1 <= count <= len(x):
        raise ValueError(f"count must be from 1 to {len(x)}, the images there are to choose from; got {count}.")
    pool = np.arange(len(x)) if kind == _MIX else np.flatnonzero(y == int(kind))
    if len(pool) < count:
        raise ValueError(f"Only {len(pool)} images of digit {kind} to choose {count} from; pass a smaller count.")
    return x[np.random.default_rng(seed).choice(pool, size=count, replace=False)]


class BatchMatesExplorer:
    """Pick the batch-mates of one image and see its predicted probabilities move, in both modes.

    Beside the chosen batch-mates it always draws the same image among a random mix of as
    many, so that what moved is visible. Every call is stateless (`output_in_batch`).

    Args:
        model: a trained model with BatchNormalization.
        image: the image to follow, without a batch axis.
        x, y: the images (and their labels) the batch-mates are chosen from.

    Attributes:
        widget: the panel to display.
        shown: mode -> (batch-mates' description -> probabilities), as last drawn.
    """

    def __init__(self, model, image: np.ndarray, x: np.ndarray, y: np.ndarray):
        self.model, self.image, self.x, self.y = model, image, x, y
        self.kind = widgets.Dropdown(options=[_MIX, *map(str, range(10))], value="1",
                                     description="batch-mates", style={"description_width": "initial"})
        self.count = widgets.IntSlider(value=31, min=1, max=63, description="how many",
                                       style={"description_width": "initial"})
        self.output = widgets.Output()
        self.kind.observe(self.redraw, names="value")
        self.count.observe(self.redraw, names="value")
        self.widget = Panel([widgets.HBox([self.kind, self.count]), self.output],
                            "Batch-mates explorer: pick the images batched with this one, see its output move "
                            "(needs a kernel).")
        self.redraw()

    def measure(self, kind: str, count: int) -> dict[str, dict[str, np.ndarray]]:
        """The image's probabilities among `count` batch-mates of `kind`, and among a random mix of as many."""
        chosen = f"{count} of digit {kind}" if kind != _MIX else f"{count}, another random mix"
        mates = {f"{count}, a random mix": batch_mate_choices(self.x, self.y, _MIX, count),
                 chosen: batch_mate_choices(self.x, self.y, kind, count, seed=1)}
        return {f"{mode} mode": {name: output_in_batch(self.model, self.image, batch, training=training)
                                 for name, batch in mates.items()}
                for mode, training in (("training", True), ("inference", False))}

    def redraw(self, _=None) -> None:
        """Measure the current choice and draw it."""
        self.shown = self.measure(self.kind.value, self.count.value)
        self.output.clear_output(wait=True)
        with self.output:
            display(plot_batch_mates(self.image, self.shown))


class ShiftExplorer:
    """Pick a corruption and its severity; see digits under it and what each repair scores there.

    Args:
        measure: `measure(kind, severity)` returns the repairs' table for that choice (as
            `over_seeds(repairs)` returns it), e.g. a lambda over `utils.repairs`.
        images: the digits to show corrupted.
        kind, severity: the first choice drawn.

    Attributes:
        widget: the panel to display.
        shown: the table last drawn.
    """

    def __init__(self, measure, images: np.ndarray, kind: str = "contrast", severity: int = 3):
        self.measure, self.images = measure, images
        self.kind = widgets.Dropdown(options=list(CORRUPTIONS), value=kind, description="corruption")
        self.severity = widgets.IntSlider(value=severity, min=min(SEVERITIES), max=max(SEVERITIES),
                                          description="severity", continuous_update=False)
        self.status = widgets.Label()
        self.output = widgets.Output()
        self.kind.observe(self.redraw, names="value")
        self.severity.observe(self.redraw, names="value")
        self.widget = Panel([widgets.HBox([self.kind, self.severity, self.status]), self.output],
                            "Shift explorer: pick a corruption and a severity, see each repair's accuracy "
                            "(needs a kernel).")
        self.redraw()

    def figures(self) -> list:
        """The figures of the current choice: the digits, then the repairs."""
        kind, severity = self.kind.value, self.severity.value
        return [plot_samples(corrupt(self.images, kind, severity), f"{kind}, severity {severity}"),
                plot_repairs(self.shown, f"{kind} at severity {severity}: each repair over "
                                         f"{self.shown['seed'].nunique()} seeds, beside clean digits")]

    def redraw(self, _=None) -> None:
        """Measure the current choice and draw it."""
        self.status.value = "measuring..."
        self.shown = self.measure(self.kind.value, self.severity.value)
        self.output.clear_output(wait=True)
        with self.output:
            for figure in self.figures():
                display(figure)
        self.status.value = ""
