import pytest

from utils.compat import fit_overrides_construction_time_training


@pytest.fixture(scope="session")
def keras_overrides():
    """Whether this Keras lets fit override a training= written into a Functional graph.

    Measured in notebook 01: Keras 3.0 to 3.15 override it; Keras 2 and the development
    branch after 3.15.1 keep it.
    """
    return fit_overrides_construction_time_training()
