import pytest

from utils.compat import fit_overrides_construction_time_training


@pytest.fixture(scope="session")
def keras_overrides():
    """Whether this Keras lets fit override a training= written into a Functional graph.

    Measured in notebook 01: Keras 3.0 to 3.15 override it; Keras 2 and the development
    branch after 3.15.1 keep it.
    """
    return fit_overrides_construction_time_training()


@pytest.fixture(scope="module")
def first_digits():
    """The first 64 training digits and their labels."""
    from utils import load_mnist_subset

    (x, y), _ = load_mnist_subset()
    return x[:64], y[:64]


@pytest.fixture(scope="module")
def briefly_trained(first_digits):
    """The seed model (Functional) after one epoch on `first_digits`: moving statistics moved, not converged."""
    import keras

    from utils import build_functional

    keras.utils.set_random_seed(0)
    model = build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(*first_digits, batch_size=16, epochs=1, verbose=0)
    return model
