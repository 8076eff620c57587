"""Notebook 13's experiment: does `fit` with each overridden `train_step` move the moving statistics?"""

from utils.backends import check_backend
from utils.bn import moved_layers, moving_statistics
from utils.data import load_mnist_subset
from utils.session import seed_everything
from utils.steps import STEP_VARIANTS, overridden_step_model


def overridden_step_outcomes(train_size: int | None = None, epochs: int = 1) -> dict[str, bool]:
    """Whether `fit` with each overridden `train_step` moves the seed model's moving statistics, on this backend.

    Args:
        train_size: fit on the first `train_size` offline digits (all 4,000 when None);
            one batch of 32 is enough to tell.
        epochs: epochs of `fit`, batch size 32.

    Returns:
        Per variant of `STEP_VARIANTS`: True when BatchNormalization's moving statistics moved.
    """
    (x_train, y_train), _ = load_mnist_subset()
    x_train, y_train = x_train[:train_size], y_train[:train_size]
    outcomes = {}
    for variant in STEP_VARIANTS[check_backend("overridden_step_outcomes")]:
        seed_everything(0)
        model = overridden_step_model(variant)
        before = moving_statistics(model)
        model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
        outcomes[variant] = bool(moved_layers(model, before))
    return outcomes
