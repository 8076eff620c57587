"""Every private Keras (and TensorFlow) API the helpers use, and the release where `training` changed back.

The collection's subject is Keras changing between releases. When a release moves
one of these, this module is the one place to fix, and `tests/test_compat.py` the
test that says so.
"""

import keras
from packaging.version import Version
from tensorflow.python.util import _pywrap_util_port

# Keras 3.0 to 3.15: `fit` overrides a `training=` written into a Functional graph with
# its own `training=True`. From this release on it keeps the written value, as Keras 2 did.
KEEPS_CONSTRUCTION_TIME_TRAINING = Version("3.16.0.dev0")


def fit_overrides_construction_time_training(version: str = keras.__version__) -> bool:
    """Whether `fit` on this Keras version overrides a `training=` written into the graph."""
    return Version("3.0") <= Version(version) < KEEPS_CONSTRUCTION_TIME_TRAINING


def nested_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer inside `model`, nested models and their layers included, in order."""
    return list(model._flatten_layers(include_self=False))


def is_functional(model: keras.Model) -> bool:
    """Whether `model` is a Functional model (`keras.Model(inputs, outputs)`), not a subclass."""
    # Sequential is a Functional model too; Keras exports neither class check.
    return isinstance(model, keras.Sequential) or type(model).__name__ == "Functional"


def functional_graph(model: keras.Model) -> keras.Model:
    """The Functional model that holds `model`'s graph: itself, or the one a Sequential model keeps."""
    return model._functional if isinstance(model, keras.Sequential) else model


def input_in(model: keras.Model, layer: keras.layers.Layer):
    """The tensor `layer` receives inside `model`'s graph (Functional or Sequential).

    `layer.input` is ambiguous for a layer called in more than one graph, as a nested
    model is: it has a node of its own besides its call in `model`.
    """
    for nodes in functional_graph(model)._nodes_by_depth.values():
        for node in nodes:
            if node.operation is layer:
                return node.input_tensors[0]
    raise ValueError(f"Layer {layer.name!r} is not called in the graph of {model.name!r}.")


def fit_state(model: keras.Model) -> list | None:
    """The values of `model.non_trainable_variables` while `fit` runs on JAX, or None.

    During an epoch on JAX, `fit` keeps the model's state outside its variables and
    donates the old buffers at each step, so reading a variable gives a deleted array.
    None when the variables themselves are current: on TensorFlow, and on JAX between
    epochs (the list is in the order of `model.non_trainable_variables`).
    """
    if keras.backend.backend() != "jax" or getattr(model, "_jax_state_synced", True):
        return None
    return model._jax_state["non_trainable_variables"]


def construction_time_training(model: keras.Model) -> dict[str, bool]:
    """The layers of a Functional model called with a `training=` written into the graph.

    Returns:
        Layer name -> the `training` value it was called with when the graph was built.
    """
    written = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            arguments = getattr(node, "arguments", None)
            if arguments is not None and arguments.kwargs.get("training") is not None:
                written[layer.name] = bool(arguments.kwargs["training"])
    return written


# TensorFlow exports no public check of oneDNN; this is what its own tests read.
ONEDNN_REPORT = "from tensorflow.python.util import _pywrap_util_port as port; print(port.IsMklEnabled())"


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its oneDNN optimisations in this process, as TensorFlow reports it."""
    return bool(_pywrap_util_port.IsMklEnabled())
