"""Commands for the people who keep the collection, not for its lessons: `python -m tools.colab`
(badges and setup cells), `python -m tools.make_figures` (the PNGs in `figures/`)."""
