"""Checkers for the exercises: run the learner's code, say what is still wrong.

`report` holds what every checker shares; `clinic` the checkers of notebook 08, `repair` those
of notebooks 09 and 10.
"""
