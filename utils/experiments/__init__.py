"""Whole experiments that a notebook runs in one call, apart from the mechanisms in `utils/`.

A module here is named for the topic of its lesson; each function runs models end to end
(train, measure, compare over seeds) from the helpers one level up, which never import
from here.
"""
