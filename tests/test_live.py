import io

import ipywidgets as widgets
import numpy as np
import PIL.Image
import pytest

from utils import LivePlot, build_functional, load_mnist_subset
from utils.live import svg_frame


@pytest.fixture(scope="module")
def images():
    (x, y), _ = load_mnist_subset()
    return x[:320], y[:320]


def compiled_seed_model(conv_batchnorm=False):
    model = build_functional(conv_batchnorm=conv_batchnorm)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def fit(model, images, live, epochs=1):
    x, y = images
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=[live])


def test_the_last_frame_shows_every_step(images):
    live = LivePlot(channel=5)
    fit(compiled_seed_model(), images, live, epochs=2)
    steps = live.figure.axes[0].lines[0].get_xdata()
    assert list(steps) == list(range(1, 21))
    np.testing.assert_allclose(live.figure.axes[0].lines[0].get_ydata(),
                               live.history["batchnorm"]["batch_mean"][:, 5])


def test_the_frame_is_a_png_of_the_figure(images):
    live = LivePlot()
    fit(compiled_seed_model(), images, live)
    picture = PIL.Image.open(io.BytesIO(live.frame))
    assert picture.format == "PNG"
    assert picture.size == live.figure.canvas.get_width_height()


def test_frames_go_into_an_image_widget_when_given_one(images):
    image = widgets.Image(format="png")
    live = LivePlot(image=image)
    fit(compiled_seed_model(), images, live)
    assert image.value == live.frame


def test_redraws_are_throttled_by_interval(images):
    drawn = []
    image = widgets.Image(format="png")
    image.observe(lambda change: drawn.append(change["new"]), names="value")
    fit(compiled_seed_model(), images, LivePlot(interval=3600, image=image))
    assert len(drawn) == 1  # the last frame only


def test_with_a_generous_budget_it_sends_svg_frames_during_training(images):
    sent = []
    image = widgets.Image(format="png")
    image.observe(lambda change: sent.append(image.format), names="value")
    live = LivePlot(interval=0, budget=1, image=image)
    fit(compiled_seed_model(), images, live)
    assert live.live_frames > 1 and sent.count("svg+xml") == live.live_frames
    assert sent[-1] == "png" and image.value == live.frame  # the last frame is the PNG that stays


class TickingClock:
    """A clock that moves on by `tick` seconds each time it is read: a frame costs one tick."""

    def __init__(self, tick: float):
        self.tick, self.now = tick, 0.0

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_drawing_takes_no_more_than_its_share_of_the_training_time(images):
    clock = TickingClock(0.002)
    live = LivePlot(interval=0, budget=0.03, image=widgets.Image(), clock=clock)
    fit(compiled_seed_model(), images, live, epochs=10)
    assert live.live_frames > 0
    assert live.drawing_time <= 0.03 * clock.now


def test_drawing_uses_the_whole_budget_when_frames_are_due(images):
    clock = TickingClock(0.002)
    live = LivePlot(interval=0, budget=0.03, image=widgets.Image(), clock=clock)
    fit(compiled_seed_model(), images, live, epochs=10)
    # Each step reads the clock once, each frame once more: a frame is one tick in 1 / 0.03 + 1.
    assert live.drawing_time >= 0.03 * clock.now - 2 * clock.tick


def test_a_statistic_that_turns_nan_is_marked_from_its_first_step():
    steps = np.arange(1.0, 7.0)[:, None]
    record = {"batch_mean": steps.copy(), "moving_mean": steps.copy(), "batch_variance": steps.copy(),
              "moving_variance": steps.copy()}
    record["batch_mean"][3:] = np.nan
    svg = svg_frame(record, channel=0, title="diverging", steps=10)
    assert "NaN or infinite from step 4" in svg
    assert svg.count("from step") == 2  # the mean panel, and the gap averaged over channels


def test_outside_ipython_nothing_is_printed(images, capsys):
    fit(compiled_seed_model(), images, LivePlot())
    assert capsys.readouterr().out == ""


def test_show_draws_another_layer_and_channel_after_training(images):
    live = LivePlot()
    fit(compiled_seed_model(conv_batchnorm=True), images, live)
    live.show("conv_batchnorm", 31)
    np.testing.assert_allclose(live.figure.axes[1].lines[1].get_ydata(),
                               live.history["conv_batchnorm"]["moving_variance"][:, 31])


def test_an_unknown_layer_name_lists_the_recorded_ones(images):
    with pytest.raises(ValueError, match=r"recorded ones are \['batchnorm'\]"):
        fit(compiled_seed_model(), images, LivePlot(layer="conv_batchnorm"))


def test_a_channel_out_of_range_names_the_valid_range(images):
    with pytest.raises(ValueError, match="channel must be 0 to 63"):
        fit(compiled_seed_model(), images, LivePlot(channel=64))


def test_show_before_training_says_to_fit_first():
    with pytest.raises(RuntimeError, match="fit"):
        LivePlot().show()
