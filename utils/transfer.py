"""Transfer learning on the digits: pretrain a base on some, fine-tune on the others."""

from pathlib import Path

import IPython
import keras
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from utils.bn import batchnorm_layers, moving_statistics, statistics_shift
from utils.compat import nested_layers
from utils.models import build_base, build_classifier, unfreeze
from utils.repair import recalibrate_batchnorm

FEATURES_ONLY = "feature extraction only"
CLASSIC = "classic: training=False, then unfreeze all"
KEPT_FROZEN = "unfreeze with BatchNormalization kept frozen"
WRAPPER = "inference-mode wrapper"
RECIPES = (FEATURES_ONLY, CLASSIC, KEPT_FROZEN, WRAPPER)
# fastai's default (`train_bn`): the body stays frozen, its BatchNormalization layers train.
TRAIN_BN = "frozen body, BatchNormalization trains (fastai)"
# Variants of the classic recipe that notebook 04 measures beside RECIPES (`recipes_on_sample`).
AT_DEFAULT_MOMENTUM = "classic, BatchNormalization momentum 0.99"
RECALIBRATED_AFTER = "classic, then statistics recalibrated"
RESTORED_AFTER = "classic, then pretrained statistics put back"
# The classic recipe again from the same head, with another seed for fit: the noise of training.
RESEEDED = "classic, another training seed"
# Feature extraction given the steps fine-tuning adds, at the same rate: the base stays frozen.
LONGER_HEAD = "feature extraction, as many steps more"
MATCHED_FEATURES = "feature extraction on the new digits' statistics"
MATCHED_CLASSIC = "classic, from a head on the new digits' statistics"
VARIANTS = (AT_DEFAULT_MOMENTUM, RECALIBRATED_AFTER, RESTORED_AFTER, RESEEDED, LONGER_HEAD,
            MATCHED_FEATURES, MATCHED_CLASSIC)
# Variants measured on the classic run's very weights, with other moving statistics.
_CLASSIC_WEIGHTS = (RECALIBRATED_AFTER, RESTORED_AFTER)
ABOVE_CLASSIC = "test accuracy above classic"
WEIGHTS_APART = "weights apart from classic"
# Everything notebook 04 compares over seeds (`recipe_run`), in the order it shows them.
COMPARED = (FEATURES_ONLY, LONGER_HEAD, CLASSIC, RESEEDED, AT_DEFAULT_MOMENTUM, RECALIBRATED_AFTER,
            RESTORED_AFTER, KEPT_FROZEN, WRAPPER, MATCHED_FEATURES, MATCHED_CLASSIC)
FINE_TUNING_RATE = 1e-4
# Added to a sample's seed for RESEEDED's fit, far from the samples' own seeds.
_RESEED = 1000


def select_digits(x: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
    """The examples of `classes`, relabelled 0, 1, ... in the order `classes` lists them."""
    classes = list(classes)
    keep = np.isin(y, classes)
    lookup = np.full(max(classes) + 1, -1)
    lookup[classes] = np.arange(len(classes))
    return x[keep], lookup[y[keep]].astype(y.dtype)


def sample(data: tuple[np.ndarray, np.ndarray], size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`size` examples of `data` drawn at random without replacement, the same for the same seed."""
    x, y = data
    if not 0 < size <= len(x):
        raise ValueError(f"Cannot draw {size} examples from {len(x)}; pass a size from 1 to {len(x)}.")
    chosen = np.random.default_rng(seed).permutation(len(x))[:size]
    return x[chosen], y[chosen]


class InferenceMode(keras.layers.Layer):
    """Calls `base` in inference mode, always: its BatchNormalization never updates.

    Its weights still train when it is trainable. A `training=False` passed
    inside `call` is an explicit argument, which Keras lets win over the value
    `fit` propagates; notebook 04 measures that the statistics stay put on the
    Keras it runs on, where `fit` overrides a `training=False` written into a
    Functional graph.
    """

    def __init__(self, base: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.base = base

    def call(self, inputs):
        return self.base(inputs, training=False)


def _compile(model: keras.Model, learning_rate: float) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def pretrain(train: tuple, num_classes: int, path: Path, epochs: int = 3, seed: int = 0) -> keras.Model:
    """Train `build_base()` with a head on `train` and save the base to `path`.

    Returns:
        The trained classifier (base and head), to evaluate on the pretraining task.
    """
    keras.utils.set_random_seed(seed)
    base = build_base()
    model = build_classifier(base, num_classes)
    _compile(model, 1e-3)
    model.fit(*train, batch_size=32, epochs=epochs, verbose=0)
    base.save(path)
    return model


def train_head(base_path: Path, train: tuple, num_classes: int, epochs: int = 20,
               batch_size: int = 32, seed: int = 0, recalibrate: bool = False) -> keras.Model:
    """Feature extraction: the saved base, frozen, with a new head trained on `train`.

    The base is called as `base(inputs, training=False)`, the classic recipe,
    and is the model's layer named "base".

    Args:
        recalibrate: first set the base's moving statistics to those of the
            training inputs (`recalibrate_batchnorm`), so that the head learns on
            features normalised about as training mode will normalise them.
    """
    keras.utils.set_random_seed(seed)
    base = keras.models.load_model(base_path)
    if recalibrate:
        recalibrate_batchnorm(base, train[0])
    base.trainable = False
    model = build_classifier(base, num_classes, training=False)
    _compile(model, 1e-3)
    model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0)
    return model


def fine_tune(model: keras.Model, recipe: str, train: tuple, epochs: int = 5,
              batch_size: int = 32, seed: int = 0, callbacks=(),
              momentum: float | None = None) -> keras.Model:
    """Unfreeze the base of a `train_head` model as `recipe` says, then train at a small rate.

    "feature extraction only" trains nothing; `LONGER_HEAD` trains the head alone,
    the base still frozen, for the same steps at the same rate. The wrapper recipe and `TRAIN_BN`
    (the body frozen but its BatchNormalization layers, called without
    `training=`) train a new model around the same base and head, returned
    instead of `model`.

    Args:
        momentum: if given, the base's BatchNormalization layers use it from now
            on, instead of the 0.9 they were built with.

    Returns:
        The model that was fine-tuned, ready to evaluate.
    """
    known = RECIPES + (TRAIN_BN, LONGER_HEAD)
    if recipe not in known:
        raise ValueError(f"Unknown recipe {recipe!r}; the recipes are {list(known)}.")
    if recipe == FEATURES_ONLY:
        return model
    base = model.get_layer("base")
    if momentum is not None:
        for layer in batchnorm_layers(base):
            layer.momentum = momentum
    if recipe == TRAIN_BN:
        base.trainable = True
        for layer in nested_layers(base):
            layer.trainable = isinstance(layer, keras.layers.BatchNormalization)
        # Called without training=: the BatchNormalization layers must run in training mode.
        inputs = keras.Input(base.input_shape[1:], name="image")
        model = keras.Model(inputs, model.get_layer("head")(base(inputs)), name="bn_trains")
    elif recipe == LONGER_HEAD:
        base.trainable = False  # as train_head left it, whatever ran on this model since
    else:
        unfreeze(base, keep_batchnorm_frozen=recipe == KEPT_FROZEN)
    if recipe == WRAPPER:
        inputs = keras.Input(base.input_shape[1:], name="image")
        features = InferenceMode(base, name="inference_mode")(inputs)
        model = keras.Model(inputs, model.get_layer("head")(features), name="wrapped")
    keras.utils.set_random_seed(seed)
    # Compile again after changing trainable: fit may not see the change otherwise.
    _compile(model, FINE_TUNING_RATE)
    model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=list(callbacks))
    return model


def scale_and_offset(model: keras.Model) -> list[np.ndarray]:
    """Every BatchNormalization layer's gamma and beta, in order: the weights BN trains."""
    return [value for layer in batchnorm_layers(model) for value in (layer.gamma.numpy(), layer.beta.numpy())]


def scale_and_offset_change(model: keras.Model, before: list[np.ndarray]) -> float:
    """The largest change of any BatchNormalization gamma or beta of `model` since `before`.

    Args:
        model: the model now.
        before: `scale_and_offset` of the same model, taken earlier.
    """
    return float(max(np.abs(now - then).max() for now, then in zip(scale_and_offset(model), before)))


class _Progress:
    """One status line, updated in place in a notebook, silent elsewhere."""

    def __init__(self):
        self._handle = None
        if IPython.get_ipython() is not None:
            self._handle = display(Markdown(""), display_id=True)

    def show(self, text: str) -> None:
        if self._handle is not None:
            self._handle.update(Markdown(text))


def variance_change(model: keras.Model, before: dict[str, tuple[np.ndarray, np.ndarray]]) -> float:
    """How far the moving variances moved since `before`: |log(now / then)| per channel, averaged; 0 if none moved."""
    changes = [np.abs(np.log(layer.moving_variance.numpy() / before[layer.name][1]))
               for layer in batchnorm_layers(model)]
    return float(np.mean(np.concatenate(changes)))


def _set_moving_statistics(model: keras.Model, statistics: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Give every BatchNormalization layer of `model` the moving statistics `moving_statistics` took."""
    for layer in batchnorm_layers(model):
        mean, variance = statistics[layer.name]
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)


def _weights_apart(model: keras.Model, reference: list[np.ndarray]) -> float:
    """The largest difference between any trainable weight of `model` and the same one in `reference`."""
    return float(max(np.abs(keras.ops.convert_to_numpy(now) - then).max()
                     for now, then in zip(model.trainable_weights, reference)))


def _scores(model: keras.Model, base: keras.Model, test: tuple, statistics: dict, scales: list) -> dict[str, float]:
    """`model`'s test accuracy, and how far its `base` moved since `statistics` and `scales` were taken."""
    return {"test accuracy": _accuracy(model, test), "shift": statistics_shift(base, statistics),
            "variance change": variance_change(base, statistics),
            "gamma/beta change": scale_and_offset_change(base, scales)}


def _tuned(model: keras.Model, recipes, train: tuple, test: tuple, epochs: int, batch_size: int,
           seed: int) -> dict[str, dict[str, float]]:
    """`_scores` after each of `recipes` (not the matched ones), every one started from `model` as it is now.

    The classic recipe runs first, so that `AT_DEFAULT_MOMENTUM` also gets
    `WEIGHTS_APART`: how far its trainable weights end from the classic run's.
    """
    base = model.get_layer("base")
    start, statistics, scales = model.get_weights(), moving_statistics(base), scale_and_offset(base)
    momenta = [layer.momentum for layer in batchnorm_layers(base)]
    results, classic_weights = {}, None
    for recipe in sorted(recipes, key=lambda recipe: recipe != CLASSIC):
        if recipe in _CLASSIC_WEIGHTS:
            continue  # measured on the classic run, below
        model.set_weights(start)
        for layer, momentum in zip(batchnorm_layers(base), momenta):
            layer.momentum = momentum  # AT_DEFAULT_MOMENTUM changes it
        default = recipe == AT_DEFAULT_MOMENTUM
        tuned = fine_tune(model, CLASSIC if default or recipe == RESEEDED else recipe, train, epochs, batch_size,
                          seed + _RESEED if recipe == RESEEDED else seed,
                          momentum=keras.layers.BatchNormalization().momentum if default else None)
        results[recipe] = _scores(tuned, base, test, statistics, scales)
        if default and classic_weights is not None:
            results[recipe][WEIGHTS_APART] = _weights_apart(tuned, classic_weights)
        if recipe == CLASSIC:
            classic_weights = [keras.ops.convert_to_numpy(weight) for weight in tuned.trainable_weights]
            # The classic run's weights with other statistics, no step more: taken afresh on the
            # training digits, then put back to those the head was trained under.
            if RECALIBRATED_AFTER in recipes:
                recalibrate_batchnorm(tuned, train[0])
                results[RECALIBRATED_AFTER] = _scores(tuned, base, test, statistics, scales)
            if RESTORED_AFTER in recipes:
                _set_moving_statistics(base, statistics)
                results[RESTORED_AFTER] = _scores(tuned, base, test, statistics, scales)
    return results


def recipes_on_sample(base_path: Path, pool: tuple, test: tuple, num_classes: int, seed: int,
                      examples: int = 200, head_epochs: int = 20, epochs: int = 5, batch_size: int = 32,
                      recipes=RECIPES) -> dict[str, dict[str, float]]:
    """Fine-tune the saved base with each of `recipes` on one sample of `pool`: one seed's `measure` for `over_seeds`.

    The seed draws `examples` training examples from `pool` and seeds the training.
    A head is trained once (`train_head`) and every recipe starts from it; the two
    matched recipes start from a second head, trained after recalibrating the base's
    statistics on the sample (`train_head(..., recalibrate=True)`).

    Args:
        recipes: any of `RECIPES`, `TRAIN_BN` and `VARIANTS`; `RECALIBRATED_AFTER` and
            `RESTORED_AFTER` need `CLASSIC`.

    Returns:
        `{recipe: scores}`, in the order of `recipes`. Scores: `test accuracy` (inference
        mode, on `test`); `shift` and `gamma/beta change` of the base since its head was
        trained (`statistics_shift`, of the means only; `variance change`, `variance_change`;
        `scale_and_offset_change`), that is since pretraining
        but for the matched recipes; with `CLASSIC` among the recipes, `ABOVE_CLASSIC`:
        the test accuracy minus the classic recipe's, on the same sample; with both `CLASSIC`
        and `AT_DEFAULT_MOMENTUM`, the latter's `WEIGHTS_APART`.
    """
    unknown = [recipe for recipe in recipes if recipe not in RECIPES + (TRAIN_BN,) + VARIANTS]
    if unknown:
        raise ValueError(f"Unknown recipes {unknown}; the recipes are {list(RECIPES + (TRAIN_BN,) + VARIANTS)}.")
    for variant in _CLASSIC_WEIGHTS:
        if variant in recipes and CLASSIC not in recipes:
            raise ValueError(f"{variant!r} changes the classic run's statistics: add {CLASSIC!r} to the recipes.")
    progress = _Progress()
    progress.show(f"Sample {seed}: fine-tuning {len(recipes)} recipes...")
    train = sample(pool, examples, seed)
    matched = {MATCHED_FEATURES: FEATURES_ONLY, MATCHED_CLASSIC: CLASSIC}
    results = {}
    ordinary = [recipe for recipe in recipes if recipe not in matched]
    if ordinary:
        head = train_head(base_path, train, num_classes, head_epochs, batch_size, seed)
        results.update(_tuned(head, ordinary, train, test, epochs, batch_size, seed))
    wanted = [recipe for recipe in recipes if recipe in matched]
    if wanted:
        head = train_head(base_path, train, num_classes, head_epochs, batch_size, seed, recalibrate=True)
        runs = _tuned(head, [matched[recipe] for recipe in wanted], train, test, epochs, batch_size, seed)
        results.update({recipe: runs[matched[recipe]] for recipe in wanted})
    if CLASSIC in results:
        reference = results[CLASSIC]["test accuracy"]
        for scores in results.values():
            scores[ABOVE_CLASSIC] = scores["test accuracy"] - reference
    progress.show(f"Sample {seed}: {len(recipes)} recipes done.")
    return {recipe: results[recipe] for recipe in recipes}


def compare_recipes(base_path: Path, pool: tuple, test: tuple, num_classes: int,
                    examples: int = 200, seeds=(0, 1, 2), head_epochs: int = 20,
                    epochs: int = 5, batch_size: int = 32, recipes=RECIPES) -> pd.DataFrame:
    """Fine-tune the saved base with each of `recipes`, on a few samples of `pool`.

    For each seed, `recipes_on_sample`: draw `examples` training examples from
    `pool`, train a head once (`train_head`), then start every recipe from that
    same model.

    Returns:
        One row per seed and recipe: `seed`, `recipe`, `test accuracy`
        (inference mode, on `test`), `shift` (`statistics_shift` of the base
        since pretraining) and `gamma/beta change` (`scale_and_offset_change`
        of the base since the head was trained).
    """
    rows = []
    for seed in seeds:
        runs = recipes_on_sample(base_path, pool, test, num_classes, seed, examples, head_epochs, epochs,
                                 batch_size, recipes)
        rows += [{"seed": seed, "recipe": recipe, **{name: value for name, value in scores.items()
                                                      if name not in (ABOVE_CLASSIC, WEIGHTS_APART)}}
                 for recipe, scores in runs.items()]
    return pd.DataFrame(rows)


def recipe_run(seed: int, base_path: str, examples: int = 200, recipes=COMPARED) -> dict:
    """One seed of notebook 04's comparison: `recipes_on_sample` on digits 5-9, from the base at `base_path`.

    Plain arguments and result, so that each seed can run in a process of its own
    (`utils.run_on`) while the notebook goes on.

    Args:
        base_path: where `pretrain` saved the base trained on digits 0-4.
        recipes: names from `COMPARED` (or `TRAIN_BN`), as a list or tuple.

    Returns:
        What `recipes_on_sample` returns: one seed's `measure` for `over_seeds`.
    """
    from utils.data import load_mnist_subset

    (x, y), (x_test, y_test) = load_mnist_subset()
    pool, test = select_digits(x, y, range(5, 10)), select_digits(x_test, y_test, range(5, 10))
    return recipes_on_sample(Path(base_path), pool, test, 5, seed, examples, recipes=tuple(recipes))


class LayerRates(keras.optimizers.Adam):
    """Adam with a learning rate of their own for some variables: fastai's discriminative learning rates.

    `learning_rate` is the rate of every variable not listed; each variable of
    `slow_variables` trains at `learning_rate * factor`.
    """

    def __init__(self, learning_rate: float, slow_variables, factor: float, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self._slow = {id(variable) for variable in slow_variables}
        self.factor = factor

    def build(self, variables):
        super().build(variables)
        # By position, the index the optimizer itself gives each variable in update_step.
        self._factors = [self.factor if id(variable) in self._slow else 1.0 for variable in variables]

    def update_step(self, gradient, variable, learning_rate):
        factor = self._factors[self._get_variable_index(variable)]
        return super().update_step(gradient, variable, learning_rate * factor)


# The three ways of fine-tuning compare_schools runs, each in two stages (head first, then everything).
SCHOOL_04 = "notebook 04: head, then unfreeze, BatchNormalization kept frozen"
SCHOOL_FASTAI = "fastai's rate ratios, BatchNormalization trains in both stages"
SCHOOL_FASTAI_BN_FROZEN = "fastai's rate ratios, BatchNormalization kept frozen"
SCHOOLS = (SCHOOL_04, SCHOOL_FASTAI, SCHOOL_FASTAI_BN_FROZEN)
# fastai's Learner.fine_tune defaults (fastai/callback/schedule.py): the second stage
# runs at half the first stage's rate, the body at 1/lr_mult of that; in the first,
# a frozen group's BatchNormalization trains at a tenth of the rate (Optimizer.set_hyper).
FASTAI_LR_MULT = 100
FASTAI_FROZEN_FACTOR = 0.1
# The first stage's rate: train_head's.
FASTAI_RATE = 1e-3


def _fastai_stage(model: keras.Model, base: keras.Model, train: tuple, learning_rate: float, factor: float,
                  epochs: int, batch_size: int) -> None:
    """Compile `model` with the base's variables at `factor` times `learning_rate`, and train it."""
    # Compile again after changing trainable: fit may not see the change otherwise.
    model.compile(optimizer=LayerRates(learning_rate, base.trainable_variables, factor),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0)


def fastai_fine_tune(base_path: Path, train: tuple, num_classes: int, train_bn: bool = True,
                     head_epochs: int = 20, epochs: int = 5, learning_rate: float = FASTAI_RATE,
                     batch_size: int = 32, seed: int = 0, after_stage_one=None) -> keras.Model:
    """fastai's `fine_tune` schedule on the saved base, at constant learning rates.

    Stage 1 (`head_epochs`): the body frozen and the head trained at `learning_rate`;
    with `train_bn`, the body's BatchNormalization layers train too (gamma and beta
    at a tenth of the rate, as fastai's frozen groups; statistics in training mode).
    Stage 2 (`epochs`): everything trains, the head at half of `learning_rate`, the
    body at 1/100 of that. Without `train_bn`, BatchNormalization stays frozen in
    both stages (inference mode, gamma and beta fixed), and stage 1 is `train_head`.

    Args:
        after_stage_one: called with the model between the stages, to measure it.

    Returns:
        The model after stage 2; its base is its layer named "base".
    """
    keras.utils.set_random_seed(seed)  # where train_head sets it, so stage 1 draws alike
    base = keras.models.load_model(base_path)
    base.trainable = True
    for layer in nested_layers(base):
        layer.trainable = train_bn and isinstance(layer, keras.layers.BatchNormalization)
    # Called without training=, so that fit runs the BatchNormalization layers that train in training mode.
    model = build_classifier(base, num_classes)
    _fastai_stage(model, base, train, learning_rate, FASTAI_FROZEN_FACTOR, head_epochs, batch_size)
    if after_stage_one is not None:
        after_stage_one(model)
    unfreeze(base, keep_batchnorm_frozen=not train_bn)
    keras.utils.set_random_seed(seed)  # where fine_tune sets it
    _fastai_stage(model, base, train, learning_rate / 2, 1 / FASTAI_LR_MULT, epochs, batch_size)
    return model


def _accuracy(model: keras.Model, data: tuple, batch_size: int = 500) -> float:
    """The share of `data` that `model` classifies right, in inference mode.

    A plain call rather than `evaluate`, which would build a new test function
    after every `compile`.
    """
    x, y = data
    predicted = np.concatenate([keras.ops.convert_to_numpy(model(x[start:start + batch_size], training=False))
                                for start in range(0, len(x), batch_size)]).argmax(axis=1)
    return float(np.mean(predicted == y))


def school_runs(base_path: Path, train: tuple, test: tuple, num_classes: int, head_epochs: int = 20,
                epochs: int = 5, batch_size: int = 32, seed: int = 0) -> dict[str, dict[str, float]]:
    """Each of `SCHOOLS` on one sample, the same steps in each stage: test accuracy after each stage.

    Notebook 04's recipe and fastai's learning rates with BatchNormalization frozen
    share their first stage, `train_head` (the same run for both).

    Returns:
        `{school: {"after stage 1": accuracy, "after stage 2": accuracy, "shift": ...,
        "gamma/beta change": ...}}`, `shift` being the base's `statistics_shift` and
        `gamma/beta change` its `scale_and_offset_change`, both since pretraining; for `over_seeds`.
    """
    saved = keras.models.load_model(base_path)
    pretrained, weights = moving_statistics(saved), scale_and_offset(saved)

    def scores(model: keras.Model, stage_one: float) -> dict[str, float]:
        base = model.get_layer("base")
        return {"after stage 1": stage_one, "after stage 2": _accuracy(model, test),
                "shift": statistics_shift(base, pretrained),
                "gamma/beta change": scale_and_offset_change(base, weights)}

    head = train_head(base_path, train, num_classes, head_epochs, batch_size, seed)
    stage_one, start = _accuracy(head, test), head.get_weights()
    results = {SCHOOL_04: scores(fine_tune(head, KEPT_FROZEN, train, epochs, batch_size, seed), stage_one)}
    head.set_weights(start)
    base = head.get_layer("base")
    unfreeze(base, keep_batchnorm_frozen=True)
    keras.utils.set_random_seed(seed)  # where fine_tune sets it
    _fastai_stage(head, base, train, FASTAI_RATE / 2, 1 / FASTAI_LR_MULT, epochs, batch_size)
    results[SCHOOL_FASTAI_BN_FROZEN] = scores(head, stage_one)
    first = []
    tuned = fastai_fine_tune(base_path, train, num_classes, True, head_epochs, epochs, batch_size=batch_size,
                             seed=seed, after_stage_one=lambda model: first.append(_accuracy(model, test)))
    results[SCHOOL_FASTAI] = scores(tuned, first[0])
    return {school: results[school] for school in SCHOOLS}


def school_run(seed: int, base_path: str, examples: int = 200, head_epochs: int = 20, epochs: int = 5) -> dict:
    """One seed of the schools' comparison on notebook 04's task: `school_runs` on digits 5-9.

    The seed draws the `examples` training digits and seeds the training. Plain
    arguments and result, so that each seed can run in a process of its own
    (`utils.run_on`) while a notebook goes on.

    Args:
        base_path: where `pretrain` saved the base trained on digits 0-4.

    Returns:
        What `school_runs` returns: one seed's `measure` for `over_seeds`.
    """
    from utils.data import load_mnist_subset

    (x, y), (x_test, y_test) = load_mnist_subset()
    pool, test = select_digits(x, y, range(5, 10)), select_digits(x_test, y_test, range(5, 10))
    return school_runs(Path(base_path), sample(pool, examples, seed), test, 5, head_epochs, epochs, seed=seed)


def compare_schools(seeds=(0, 1, 2), examples: int = 200, head_epochs: int = 20, epochs: int = 5) -> pd.DataFrame:
    """Notebook 04's transfer task from scratch: pretrain on digits 0-4, then `school_run` per seed.

    Returns:
        What `over_seeds` returns: one row per seed, school and metric.
    """
    import tempfile

    from utils.data import load_mnist_subset
    from utils.seeds import over_seeds

    (x, y), _ = load_mnist_subset()
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "base.keras"
        pretrain(select_digits(x, y, range(5)), num_classes=5, path=path, epochs=3)
        return over_seeds(lambda seed: school_run(seed, str(path), examples, head_epochs, epochs), seeds)
