import numpy as np
import pytest

from utils import BatchNormExplorer, FlagsPanel, load_mnist_subset
from utils.widgets import Panel


@pytest.fixture
def explorer():
    (x, y), _ = load_mnist_subset()
    return BatchNormExplorer(x[:640], y[:640], steps=10)


def test_the_explorer_shows_the_default_run_at_once(explorer):
    assert explorer.image.value == explorer.live.frame
    assert "trained 10 steps, batch size 32, momentum 0.99" in explorer.status.value


def busiest(explorer, layer):
    return int(explorer.live.history[layer]["batch_variance"].mean(axis=0).argmax())


def test_the_explorer_starts_on_the_busiest_channel(explorer):
    assert explorer.live.channel == explorer.channel.value == busiest(explorer, explorer.layer.value)


def test_choosing_a_channel_redraws_the_same_run(explorer):
    run, frame = explorer.live, explorer.image.value
    other = (explorer.channel.value + 1) % 64
    explorer.channel.value = other
    assert explorer.live is run and explorer.live.channel == other
    assert explorer.image.value != frame


def test_choosing_the_conv_layer_shows_its_busiest_channel_among_its_filters(explorer):
    explorer.channel.value = 50
    explorer.layer.value = "conv_batchnorm"
    assert explorer.channel.max == 31
    assert explorer.live.layer == "conv_batchnorm" and explorer.live.channel == busiest(explorer, "conv_batchnorm")


def test_choosing_a_batch_size_trains_again_with_it(explorer):
    run = explorer.live
    explorer.batch_size.value = 4
    assert explorer.live is not run
    assert explorer.live.params["steps"] == 10
    assert "batch size 4" in explorer.status.value


def test_choosing_a_momentum_trains_again_with_it(explorer):
    explorer.momentum.value = 0.9
    assert explorer.live.model.get_layer("batchnorm").momentum == 0.9


def test_the_flags_panel_runs_one_step_with_the_chosen_flags():
    panel = FlagsPanel()
    panel.trainable["batchnorm"].value = False
    panel.training.value = "True"
    panel.button.click()
    assert panel.result.loc["batchnorm", "ran in"] == "inference mode"
    assert not panel.result.loc["batchnorm", "trainable"]


def test_choosing_a_layer_draws_its_picture_once(explorer):
    frames = []
    explorer.image.observe(lambda change: frames.append(change["new"]), names="value")
    explorer.channel.value = 60
    frames.clear()
    explorer.layer.value = "conv_batchnorm" if explorer.layer.value == "batchnorm" else "batchnorm"
    assert len(frames) == 1


def test_a_panel_reads_as_a_sentence_without_a_kernel(explorer):
    text = repr(explorer.widget)  # ipywidgets 7.7 and 8 both show it as the output's text/plain
    assert text.startswith("BatchNormalization explorer:") and "needs a running kernel" in text
    assert "children=" not in text


def test_a_panel_refuses_a_note_that_ipywidgets_would_cut():
    with pytest.raises(ValueError, match="110 characters"):
        Panel([], "x" * 111)


def test_the_batch_mates_explorer_moves_the_image_in_training_mode_only(briefly_trained):
    from utils import BatchMatesExplorer

    x, y = load_mnist_subset()[1]
    shown = BatchMatesExplorer(briefly_trained, x[0], x, y).shown
    training, inference = ([*shown[mode].values()] for mode in ("training mode", "inference mode"))
    assert np.abs(training[0] - training[1]).max() > 1e-4
    np.testing.assert_allclose(inference[0], inference[1], atol=1e-6)


def test_too_many_batch_mates_of_one_digit_are_refused_with_how_many_there_are(first_digits):
    from utils import batch_mate_choices

    with pytest.raises(ValueError, match="Only .* images of digit 1"):
        batch_mate_choices(*first_digits, "1", len(first_digits[0]))
