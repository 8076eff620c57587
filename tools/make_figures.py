"""`python -m tools.make_figures`: measure again and rewrite the PNGs in `figures/`."""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import utils  # noqa: E402
from utils.arithmetic import mean_shift  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "figures"


def behaviour_matrix() -> plt.Figure:
    """Notebook 01's matrix: what each call passes as `training`, on this Keras."""
    return utils.plot_behaviour_matrix(utils.behaviour_matrix())


def batchnorm_live() -> bytes:
    """Notebook 03's live plot, its last frame: the seed model trained 4 epochs."""
    (x, y), _ = utils.load_mnist_subset()
    keras.utils.set_random_seed(0)
    model = utils.build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    live = utils.LivePlot(layer="batchnorm", channel=3)
    model.fit(x, y, batch_size=32, epochs=4, verbose=0, callbacks=[live])
    return live.frame


def fine_tuning() -> tuple[plt.Figure | None, plt.Figure]:
    """Notebook 05's drift (None where fit keeps training=False) and its recipes compared."""
    (x, y), (x_test, y_test) = utils.load_mnist_subset()
    pool = utils.select_digits(x, y, range(5, 10))
    test = utils.select_digits(x_test, y_test, range(5, 10))
    train = utils.sample(pool, 200, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "base.keras"
        utils.pretrain(utils.select_digits(x, y, range(5)), 5, path)
        model = utils.train_head(path, train, 5)
        base = model.get_layer("base")
        pretrained = utils.moving_statistics(base)
        recorder = utils.BatchNormRecorder()
        row, = utils.behaviour_matrix(["nested_base_training_false"], ["fit"])
        drift = None
        if row["bn_updated"]:
            utils.fine_tune(model, utils.CLASSIC, train, callbacks=[recorder])
            mean, variance = pretrained["batchnorm3"]
            moved = mean_shift(recorder.history["batchnorm3"]["moving_mean"][-1], mean, variance)
            drift = utils.plot_drift(recorder.history, pretrained, "batchnorm3", int(np.argmax(moved)))
        recipes = utils.plot_recipes(utils.compare_recipes(path, pool, test, 5))
    return drift, recipes


def mc_dropout() -> plt.Figure:
    """Notebook 06's most and least certain digits under Monte Carlo dropout."""
    (x, y), (x_test, y_test) = utils.load_mnist_subset()
    keras.utils.set_random_seed(0)
    model = utils.build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    samples = utils.mc_predict(utils.with_mc_dropout(model), x_test[:500], samples=20)
    return utils.plot_mc_uncertainty(x_test[:500], y_test[:500], samples)


def _write(name: str, figure) -> None:
    path = FIGURES / name
    if figure is None:
        print(f"skipped {path.relative_to(FIGURES.parent)}: nothing to draw on Keras {keras.__version__}")
        return
    if isinstance(figure, bytes):
        path.write_bytes(figure)
    else:
        figure.savefig(path, dpi=utils.figures.style.DPI)
    print(f"wrote {path.relative_to(FIGURES.parent)}")


def main() -> int:
    """Write every figure the README and a teacher's slides use."""
    FIGURES.mkdir(exist_ok=True)
    _write("behaviour_matrix.png", behaviour_matrix())
    _write("batchnorm_live.png", batchnorm_live())
    drift, recipes = fine_tuning()
    _write("fine_tuning_drift.png", drift)
    _write("fine_tuning_recipes.png", recipes)
    _write("mc_dropout_uncertainty.png", mc_dropout())
    return 0


if __name__ == "__main__":
    sys.exit(main())
