"""`python -m utils.make_figures`: measure again and rewrite the PNGs in `figures/`."""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from utils import behaviour_matrix, plot_behaviour_matrix  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "figures"


def main() -> int:
    """Write every figure the README and a teacher's slides use."""
    FIGURES.mkdir(exist_ok=True)
    path = FIGURES / "behaviour_matrix.png"
    plot_behaviour_matrix(behaviour_matrix()).savefig(path, dpi=110)
    print(f"wrote {path.relative_to(FIGURES.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
