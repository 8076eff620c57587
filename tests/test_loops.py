import numpy as np
import pytest

from utils import build_functional, load_mnist_subset, train_and_track


@pytest.fixture(scope="module")
def digits():
    (x, y), (x_test, y_test) = load_mnist_subset()
    return (x[:320], y[:320]), (x_test[:100], y_test[:100])


def run(method, digits):
    train, test = digits
    model = build_functional()
    curve = train_and_track(model, method, train, test, epochs=1, every=5)
    return model, curve


def test_a_loop_calling_model_x_never_updates_the_moving_statistics(digits):
    model, _ = run("loop with model(x)", digits)
    bn = model.get_layer("batchnorm")
    assert np.all(bn.moving_mean.numpy() == 0) and np.all(bn.moving_variance.numpy() == 1)


def test_a_loop_with_training_true_updates_the_moving_statistics(digits):
    model, _ = run("loop with model(x, training=True)", digits)
    assert not np.all(model.get_layer("batchnorm").moving_mean.numpy() == 0)


def test_train_and_track_measures_before_training_and_every_few_steps(digits):
    _, curve = run("loop with model(x)", digits)
    assert list(curve["step"]) == [0, 5, 10]
    assert curve["test accuracy"].between(0, 1).all()


def test_an_unknown_method_lists_the_methods(digits):
    with pytest.raises(ValueError, match="the methods are"):
        run("eager", digits)
