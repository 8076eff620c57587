"""Checkers for the exercises: run the learner's code, say what is still wrong.

`report` holds what every checker shares; `clinic` the checkers of notebook 07, `repair` those
of notebooks 08 and 09.
"""
