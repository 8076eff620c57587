"""Fences: every private Keras API the helpers use lives in `utils/compat.py`, and nowhere else;
no helper changes a global setting behind the reader's back; no module grows past 400 lines."""

import ast
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parent.parent / "utils"
MODULES = sorted(path for path in UTILS.rglob("*.py") if path.name != "compat.py")
# Not Keras: a worker process ends with os._exit so that no cleanup can hang it.
ALLOWED = {"os._exit"}


def _private_reads(tree: ast.AST) -> list[str]:
    """Private attributes read from an object the module does not own (not `self` or `cls`)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(ast.unparse(node))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr") and len(node.args) > 1
              and isinstance(node.args[1], ast.Constant) and str(node.args[1].value).startswith("_")):
            found.append(ast.unparse(node))
    return [name for name in found if name not in ALLOWED]


def _keras_src_uses(tree: ast.AST) -> list[str]:
    """Imports from `keras.src`, and `keras.src` reached as an attribute."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("keras.src")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras.src"):
            found.append(node.module)
        elif (isinstance(node, ast.Attribute) and node.attr == "src"
              and isinstance(node.value, ast.Name) and node.value.id == "keras"):
            found.append(ast.unparse(node))
    return found


# Settings that outlive the call, by where they may be changed: the log levels as TensorFlow
# loads (notebook 00 shows it), and the CPU split notebook 12 asks for by name.
GLOBAL_SETTERS = ("keras.config.set_", "keras.backend.set_", "tf.config.set_", "tf.config.run_functions_eagerly",
                  "matplotlib.use", "plt.style.use", "warnings.filterwarnings", "warnings.simplefilter",
                  "os.environ.setdefault", "os.environ.update", "setLevel")
SETTINGS_ALLOWED = {"quiet.py": {"setLevel", "os.environ"}, "replicas/mirrored.py": {"tf.config.set_"}}


def _global_settings(tree: ast.AST) -> set[str]:
    """The global setters (of `GLOBAL_SETTERS`) a module calls or assigns through."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            found |= {setter for setter in GLOBAL_SETTERS if name.startswith(setter) or name.endswith(setter)}
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Subscript) and ast.unparse(part.value) in (
                            "os.environ", "plt.rcParams", "matplotlib.rcParams", "mpl.rcParams"):
                        found.add(ast.unparse(part.value))
    return found


@pytest.mark.parametrize("path", MODULES, ids=[str(path.relative_to(UTILS)) for path in MODULES])
def test_no_helper_changes_a_global_setting_but_where_the_reader_is_told(path):
    allowed = SETTINGS_ALLOWED.get(str(path.relative_to(UTILS)), set())
    assert _global_settings(ast.parse(path.read_text())) <= allowed


def test_the_global_settings_fence_catches_each_kind():
    source = ("keras.config.set_floatx('float16')\nos.environ['X'] = '1'\nplt.rcParams['font.size'] = 20\n"
              "tf.get_logger().setLevel('ERROR')\nwarnings.simplefilter('ignore')")
    assert _global_settings(ast.parse(source)) == {
        "keras.config.set_", "os.environ", "plt.rcParams", "setLevel", "warnings.simplefilter"}


@pytest.mark.parametrize("path", MODULES, ids=[str(path.relative_to(UTILS)) for path in MODULES])
def test_no_module_but_compat_reads_a_private_attribute(path):
    assert _private_reads(ast.parse(path.read_text())) == [], "move it into utils/compat.py"


@pytest.mark.parametrize("path", MODULES, ids=[str(path.relative_to(UTILS)) for path in MODULES])
def test_no_module_but_compat_uses_keras_src(path):
    assert _keras_src_uses(ast.parse(path.read_text())) == [], "move it into utils/compat.py"


def test_the_private_attribute_fence_catches_a_private_read():
    assert _private_reads(ast.parse("model._jax_state\ngetattr(model, '_jax_state_synced', True)")) == [
        "model._jax_state", "getattr(model, '_jax_state_synced', True)"]


def test_the_keras_src_fence_catches_every_way_in():
    source = "import keras.src.ops\nfrom keras.src import backend\nkeras.src.layers"
    assert _keras_src_uses(ast.parse(source)) == ["keras.src.ops", "keras.src", "keras.src"]


@pytest.mark.parametrize("path", sorted(UTILS.rglob("*.py")), ids=lambda path: str(path.relative_to(UTILS)))
def test_no_module_of_the_helpers_is_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= 400, "split it by topic, as utils/figures/ is"
