"""`python -m tools.renumber`: every reference a reader follows moves with its notebook."""

from tools.renumber import rewrite


def test_a_file_name_from_the_new_number_on_moves_up_by_one():
    assert rewrite("see 02_batchnorm_live.ipynb and 01_training_flag.ipynb", 2) == (
        "see 03_batchnorm_live.ipynb and 01_training_flag.ipynb")


def test_every_number_of_a_list_after_the_word_notebook_moves():
    assert rewrite("notebooks 01, 02 and 03; Notebook 11's; notebooks 08 to 09", 2) == (
        "notebooks 01, 03 and 04; Notebook 12's; notebooks 09 to 10")


def test_a_notebook_reference_broken_over_a_stored_line_moves():
    assert rewrite('"the seed model of notebook\\n04 again"', 2) == '"the seed model of notebook\\n05 again"'


def test_table_rows_in_markdown_and_in_a_stored_notebook_move():
    assert rewrite('| 02 BatchNormalization, live |\n    "| 11 Same model |\\n",', 2) == (
        '| 03 BatchNormalization, live |\n    "| 12 Same model |\\n",')


def test_numbers_that_are_not_notebooks_stay():
    text = "batches of 32, 10 classes, digits 5-9, version 3.13, 2026-12-02"
    assert rewrite(text, 2) == text
