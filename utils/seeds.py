"""Comparisons over several seeds: run a measurement per seed, summarise it, call a winner.

Every comparison between methods in the notebooks goes through these functions, so that
each one is measured over several runs, shown with its spread, and a winner is named only
when the runs of one method all lie above (or below) the runs of the other.
"""

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

SEEDS = (0, 1, 2)


def _rows(seed: int, result: Mapping) -> list[dict]:
    """The tidy rows of one seed's `result`: {method: value} or {method: {metric: value}}."""
    rows = []
    for method, values in result.items():
        if not isinstance(values, Mapping):
            values = {"value": values}
        for metric, value in values.items():
            rows.append({"seed": seed, "method": method, "metric": metric, "value": float(value)})
    return rows


def over_seeds(measure: Callable[[int], Mapping], seeds: Iterable[int] = SEEDS) -> pd.DataFrame:
    """Run `measure(seed)` for every seed and collect what it returns in one tidy table.

    Args:
        measure: takes a seed and returns `{method: value}`, or `{method: {metric: value}}`
            when it measures several things per method.
        seeds: the seeds to run, at least 2.

    Returns:
        One row per seed, method and metric, with columns `seed`, `method`, `metric`, `value`.
    """
    seeds = list(seeds)
    if len(seeds) < 2:
        raise ValueError(f"over_seeds needs at least 2 seeds to show a spread, got {seeds}; pass seeds=range(3).")
    rows = []
    for seed in seeds:
        result = measure(seed)
        if not isinstance(result, Mapping) or not result:
            raise TypeError(f"measure({seed}) returned {result!r}; it must return a non-empty "
                            "{method: value} or {method: {metric: value}} dictionary.")
        rows.extend(_rows(seed, result))
    return pd.DataFrame(rows, columns=["seed", "method", "metric", "value"])


def _metric(table: pd.DataFrame, metric: str | None) -> pd.DataFrame:
    """The rows of `table` for `metric` (the only one when it is None)."""
    metrics = list(dict.fromkeys(table["metric"]))
    if metric is None:
        if len(metrics) != 1:
            raise ValueError(f"the table holds several metrics {metrics}; name the one to use with metric=.")
        metric = metrics[0]
    if metric not in metrics:
        raise KeyError(f"no metric {metric!r} in the table; it holds {metrics}.")
    return table[table["metric"] == metric]


def spread(table: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Mean, lowest and highest value and number of runs per method, in the table's order.

    Args:
        table: what `over_seeds` returned.
        metric: which metric to summarise; may be left out when there is only one.
    """
    rows = _metric(table, metric)
    methods = list(dict.fromkeys(rows["method"]))
    summary = rows.groupby("method", sort=False)["value"].agg(["mean", "min", "max", "count"])
    summary = summary.rename(columns={"count": "runs"}).loc[methods]
    summary["range"] = summary["max"] - summary["min"]
    return summary


def apart(table: pd.DataFrame, first: str, second: str, metric: str | None = None) -> bool:
    """Whether the runs of `first` and `second` do not overlap: every run of one beats every run of the other."""
    summary = spread(table, metric)
    for method in (first, second):
        if method not in summary.index:
            raise KeyError(f"no method {method!r} in the table; it holds {list(summary.index)}.")
    a, b = summary.loc[first], summary.loc[second]
    return bool(a["min"] > b["max"] or b["min"] > a["max"])


def winner(table: pd.DataFrame, first: str, second: str, metric: str | None = None,
           higher_is_better: bool = True) -> str | None:
    """The method whose every run beats every run of the other, or None when their runs overlap."""
    if not apart(table, first, second, metric):
        return None
    means = spread(table, metric)["mean"]
    better_first = means[first] > means[second]
    return first if better_first == higher_is_better else second


def verdict(table: pd.DataFrame, first: str, second: str, metric: str | None = None,
            higher_is_better: bool = True, digits: int = 3) -> str:
    """One sentence a notebook can print: who wins and by how much, or that the two are not apart here."""
    summary = spread(table, metric)
    runs = int(min(summary.loc[first, "runs"], summary.loc[second, "runs"]))

    def described(method: str) -> str:
        row = summary.loc[method]
        return f"{method} {row['mean']:.{digits}f} (runs {row['min']:.{digits}f} to {row['max']:.{digits}f})"

    best = winner(table, first, second, metric, higher_is_better)
    if best is None:
        return (f"{described(first)} and {described(second)}: their runs overlap, "
                f"so over {runs} seeds the two are not apart here.")
    other = second if best == first else first
    difference = abs(summary.loc[best, "mean"] - summary.loc[other, "mean"])
    return (f"{described(best)} beats {described(other)} in every one of {runs} seeds, "
            f"by {difference:.{digits}f} on average.")


def mean_and_range(values: np.ndarray | pd.Series, digits: int = 3) -> str:
    """`values` as "mean (lowest to highest)", for a table or a sentence."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("mean_and_range needs at least one value; the selection is empty "
                         "(check its method or metric).")
    return f"{values.mean():.{digits}f} ({values.min():.{digits}f} to {values.max():.{digits}f})"
