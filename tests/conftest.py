import keras
import pytest
from packaging.version import Version


@pytest.fixture(scope="session")
def keras_overrides():
    """Whether this Keras lets fit override a training= written into a Functional graph.

    Measured in notebook 01: Keras 3.0 to 3.15 override it; Keras 2 and the development
    branch after 3.15.1 keep it.
    """
    return Version("3.0") <= Version(keras.__version__) < Version("3.16.0.dev0")
