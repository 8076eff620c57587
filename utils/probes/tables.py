"""The behaviour matrix as tables."""

import pandas as pd

from utils.probes.measure import CALL_LABELS, CALLS
from utils.probes.scenarios import SCENARIOS


def matrix_frame(rows: list[dict]):
    """The matrix as a pandas DataFrame, one row per (scenario, call), no version column."""
    columns = ["scenario", "call", "probe_training", "bn_updated", "bn_used_batch_stats",
               "dropout_active"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["probe_training"] = frame["probe_training"].map(str)
    return frame


def matrix_pivot(rows: list[dict], value: str = "probe_training"):
    """One column of the matrix as a scenario-by-call table, in the order of `SCENARIOS`.

    The columns are named as the calls are written in code (`CALL_LABELS`).
    """
    frame = matrix_frame(rows).pivot(index="scenario", columns="call", values=value)
    frame = frame.loc[[s for s in SCENARIOS if s in frame.index], [c for c in CALLS if c in frame]]
    return frame.rename(columns=CALL_LABELS)
