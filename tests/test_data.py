import numpy as np
import pytest

from utils import load_mnist, load_mnist_subset


@pytest.fixture(scope="module")
def split():
    return load_mnist_subset()


def test_subset_is_shaped_like_keras_datasets(split):
    (x_train, y_train), (x_test, y_test) = split
    assert x_train.shape == (4000, 28, 28, 1) and x_test.shape == (1000, 28, 28, 1)
    assert y_train.shape == (4000,) and y_test.shape == (1000,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64


def test_subset_images_are_scaled_to_unit_range(split):
    (x_train, _), _ = split
    assert x_train.min() == 0.0 and x_train.max() == 1.0


def test_subset_split_keeps_every_digit_in_equal_shares(split):
    (_, y_train), (_, y_test) = split
    assert set(np.bincount(y_train)) == {400}
    assert set(np.bincount(y_test)) == {100}


def test_subset_is_shuffled_not_sorted_by_label(split):
    (_, y_train), _ = split
    assert np.count_nonzero(np.diff(y_train)) > len(y_train) // 2


def test_subset_train_and_test_share_no_image(split):
    (x_train, _), (x_test, _) = split
    train = {image.tobytes() for image in x_train}
    assert not any(image.tobytes() in train for image in x_test)


def test_subset_same_seed_gives_same_split_and_other_seed_another(split):
    (_, y_train), _ = split
    (_, y_again), _ = load_mnist_subset(seed=0)
    (_, y_other), _ = load_mnist_subset(seed=1)
    assert np.array_equal(y_train, y_again)
    assert not np.array_equal(y_train, y_other)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.2, 0.0001])
def test_subset_impossible_split_is_refused_with_a_valid_example(fraction):
    with pytest.raises(ValueError, match="e.g. 0.2"):
        load_mnist_subset(test_fraction=fraction)


def test_full_mnist_offline_fails_with_pointer_to_subset(tmp_path, monkeypatch):
    # A proxy on a closed loopback port stands in for a machine with no network.
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    with pytest.raises(RuntimeError, match="load_mnist_subset"):
        load_mnist(path=str(tmp_path / "mnist.npz"))
