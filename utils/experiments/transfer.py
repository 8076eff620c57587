"""Notebook 05's recipes and notebook 10's schools of fine-tuning, compared end to end on the digits."""

import tempfile
from pathlib import Path

import IPython
import keras
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from utils.bn import batchnorm_layers, moving_statistics, statistics_shift
from utils.data import load_mnist_subset
from utils.models import unfreeze
from utils.repair import recalibrate_batchnorm
from utils.seeds import over_seeds
from utils.transfer import (
    ABOVE_CLASSIC,
    AT_DEFAULT_MOMENTUM,
    CLASSIC,
    COMPARED,
    FASTAI_LR_MULT,
    FASTAI_RATE,
    FEATURES_ONLY,
    KEPT_FROZEN,
    MATCHED_CLASSIC,
    MATCHED_FEATURES,
    RECALIBRATED_AFTER,
    RECIPES,
    RESEEDED,
    RESTORED_AFTER,
    TRAIN_BN,
    VARIANTS,
    WEIGHTS_APART,
    fastai_fine_tune,
    fastai_stage,
    fine_tune,
    inference_accuracy,
    pretrain,
    sample,
    scale_and_offset,
    scale_and_offset_change,
    select_digits,
    train_head,
    variance_change,
)

# Variants measured on the classic run's very weights, with other moving statistics.
_CLASSIC_WEIGHTS = (RECALIBRATED_AFTER, RESTORED_AFTER)
# Added to a sample's seed for RESEEDED's fit, far from the samples' own seeds.
_RESEED = 1000
# The three ways of fine-tuning compare_schools runs, each in two stages (head first, then everything).
SCHOOL_04 = "notebook 05: head, then unfreeze, BatchNormalization kept frozen"
SCHOOL_FASTAI = "fastai's rate ratios, BatchNormalization trains in both stages"
SCHOOL_FASTAI_BN_FROZEN = "fastai's rate ratios, BatchNormalization kept frozen"
SCHOOLS = (SCHOOL_04, SCHOOL_FASTAI, SCHOOL_FASTAI_BN_FROZEN)


class _Progress:
    """One status line, updated in place in a notebook, silent elsewhere."""

    def __init__(self):
        self._handle = None
        if IPython.get_ipython() is not None:
            self._handle = display(Markdown(""), display_id=True)

    def show(self, text: str) -> None:
        if self._handle is not None:
            self._handle.update(Markdown(text))


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
    return {"test accuracy": inference_accuracy(model, test), "shift": statistics_shift(base, statistics),
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
    """One seed of notebook 05's comparison: `recipes_on_sample` on digits 5-9, from the base at `base_path`.

    Plain arguments and result, so that each seed can run in a process of its own
    (`utils.run_on`) while the notebook goes on.

    Args:
        base_path: where `pretrain` saved the base trained on digits 0-4.
        recipes: names from `COMPARED` (or `TRAIN_BN`), as a list or tuple.

    Returns:
        What `recipes_on_sample` returns: one seed's `measure` for `over_seeds`.
    """
    (x, y), (x_test, y_test) = load_mnist_subset()
    pool, test = select_digits(x, y, range(5, 10)), select_digits(x_test, y_test, range(5, 10))
    return recipes_on_sample(Path(base_path), pool, test, 5, seed, examples, recipes=tuple(recipes))


def school_runs(base_path: Path, train: tuple, test: tuple, num_classes: int, head_epochs: int = 20,
                epochs: int = 5, batch_size: int = 32, seed: int = 0) -> dict[str, dict[str, float]]:
    """Each of `SCHOOLS` on one sample, the same steps in each stage: test accuracy after each stage.

    Notebook 05's recipe and fastai's learning rates with BatchNormalization frozen
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
        return {"after stage 1": stage_one, "after stage 2": inference_accuracy(model, test),
                "shift": statistics_shift(base, pretrained),
                "gamma/beta change": scale_and_offset_change(base, weights)}

    head = train_head(base_path, train, num_classes, head_epochs, batch_size, seed)
    stage_one, start = inference_accuracy(head, test), head.get_weights()
    results = {SCHOOL_04: scores(fine_tune(head, KEPT_FROZEN, train, epochs, batch_size, seed), stage_one)}
    head.set_weights(start)
    base = head.get_layer("base")
    unfreeze(base, keep_batchnorm_frozen=True)
    keras.utils.set_random_seed(seed)  # where fine_tune sets it
    fastai_stage(head, base, train, FASTAI_RATE / 2, 1 / FASTAI_LR_MULT, epochs, batch_size)
    results[SCHOOL_FASTAI_BN_FROZEN] = scores(head, stage_one)
    first = []
    tuned = fastai_fine_tune(base_path, train, num_classes, True, head_epochs, epochs, batch_size=batch_size,
                             seed=seed, after_stage_one=lambda model: first.append(inference_accuracy(model, test)))
    results[SCHOOL_FASTAI] = scores(tuned, first[0])
    return {school: results[school] for school in SCHOOLS}


def school_run(seed: int, base_path: str, examples: int = 200, head_epochs: int = 20, epochs: int = 5) -> dict:
    """One seed of the schools' comparison on notebook 05's task: `school_runs` on digits 5-9.

    The seed draws the `examples` training digits and seeds the training. Plain
    arguments and result, so that each seed can run in a process of its own
    (`utils.run_on`) while a notebook goes on.

    Args:
        base_path: where `pretrain` saved the base trained on digits 0-4.

    Returns:
        What `school_runs` returns: one seed's `measure` for `over_seeds`.
    """
    (x, y), (x_test, y_test) = load_mnist_subset()
    pool, test = select_digits(x, y, range(5, 10)), select_digits(x_test, y_test, range(5, 10))
    return school_runs(Path(base_path), sample(pool, examples, seed), test, 5, head_epochs, epochs, seed=seed)


def compare_schools(seeds=(0, 1, 2), examples: int = 200, head_epochs: int = 20, epochs: int = 5) -> pd.DataFrame:
    """Notebook 05's transfer task from scratch: pretrain on digits 0-4, then `school_run` per seed.

    Returns:
        What `over_seeds` returns: one row per seed, school and metric.
    """
    (x, y), _ = load_mnist_subset()
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "base.keras"
        pretrain(select_digits(x, y, range(5)), num_classes=5, path=path, epochs=3)
        return over_seeds(lambda seed: school_run(seed, str(path), examples, head_epochs, epochs), seeds)
