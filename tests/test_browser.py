"""The notebooks in a real browser at projector size: JupyterLab, headless Chromium, 1280x720.

Every notebook is opened from its stored outputs, as a reader sees it before running
anything; the interactive ones are also run, as a class sees them with a kernel.

Marker `browser` (slow, needs Debian's `chromium` and Python `playwright`): `.ci/run`
installs both and runs it; or `python -m pytest -m browser`. Screenshots go to
`test-artifacts/`.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "browser-test"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on loopback, serving a copy of the notebooks (its autosave must not touch ours).

    Its settings and workspaces live in the copy too: a workspace saved by an earlier
    session would reopen other notebooks beside the one under test.
    """
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copytree(ROOT / "utils", root / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    port = _free_port()
    log = root / "jupyterlab.log"
    # Render every cell, not only those in view, so the whole notebook can be checked.
    settings = root / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    news = root / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    env["JUPYTERLAB_SETTINGS_DIR"] = str(root / "settings")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}", "--allow-root",
         "--LabApp.expose_app_in_browser=True", f"--LabApp.workspaces_dir={root / 'workspaces'}"],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    deadline = time.time() + 120
    while True:
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                break
        if server.poll() is not None or time.time() > deadline:
            pytest.fail(f"JupyterLab did not start; its log:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail("the browser test needs Debian's chromium: apt-get install chromium "
                    "(bash .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


# What a teacher projects: JupyterLab in its default layout on a 1280x720 screen.
PROJECTOR = {"width": 1280, "height": 720}
STORED = sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))

NOTEBOOK = "window.jupyterapp.shell.currentWidget.content.node"
PROMPTS = f"[...{NOTEBOOK}.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent)"


# Samples, every 50 ms, the output of the code cell that contains `code` while that cell
# runs, and counts the distinct pictures it showed: what a class watching the screen sees.
WATCH = """code => {
    const frames = window.watchedFrames = {count: 0, last: null, first: null, end: null};
    setInterval(() => {
        const cell = [...NOTEBOOK.querySelectorAll('.jp-CodeCell')]
            .find(candidate => candidate.querySelector('.jp-Editor').textContent.includes(code));
        if (!cell || !cell.querySelector('.jp-InputPrompt').textContent.includes('*')) return;
        const now = performance.now();
        frames.first = frames.first === null ? now : frames.first;
        frames.end = now;
        const picture = cell.querySelector('.jp-OutputArea-output img, .jp-OutputArea-output svg');
        const shown = picture && (picture.src || picture.outerHTML);
        if (shown && shown !== frames.last) {
            frames.count += 1;
            frames.last = shown;
        }
    }, 50);
}""".replace("NOTEBOOK", NOTEBOOK)


def open_notebook(page, lab: str, notebook: str) -> None:
    """Open `notebook` in `page` from its stored outputs, and wait until its cells are drawn."""
    # A workspace of its own, so the notebooks opened before it are not reopened beside it.
    workspace = Path(notebook).stem
    page.goto(f"{lab}/lab/workspaces/{workspace}/tree/notebooks/{notebook}?token={TOKEN}")
    page.wait_for_function(
        f"() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        f" && {NOTEBOOK}.querySelector('.jp-Cell')", timeout=60_000)


def run_all(page, lab: str, notebook: str, watch: str | None = None) -> None:
    """Open `notebook` in `page`, run all its cells, wait until the run ends.

    Args:
        watch: code in one cell whose pictures to count while it runs (`watched_frames`).
    """
    open_notebook(page, lab, notebook)
    # run-all-cells silently runs nothing while the kernel is still starting.
    page.wait_for_function(
        """() => {
            const context = window.jupyterapp.shell.currentWidget.sessionContext;
            const kernel = context.session && context.session.kernel;
            return context.isReady && kernel && kernel.connectionStatus === 'connected'
                && kernel.status === 'idle';
        }""", timeout=120_000)
    # Clear the stored outputs first, so a prompt shows a number only once it has run again.
    page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function(f"() => {PROMPTS}.every(text => !/\\d/.test(text))", timeout=30_000)
    if watch:
        page.evaluate(WATCH, watch)
    # Not awaited: the run-all promise settles only when the last cell is done.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    # Done when nothing is queued and the kernel is idle: after the last cell, or after an
    # error stopped the run (the test then reports the error, not a timeout).
    try:
        page.wait_for_function(
            f"""() => {{
                const texts = {PROMPTS};
                const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                return /\\[\\d+\\]/.test(texts[0]) && !texts.some(text => text.includes('*'))
                    && kernel.status === 'idle';
            }}""", timeout=300_000)
    except Exception:
        screenshot(page, f"{Path(notebook).stem}_timeout.png")
        raise


def not_run(page) -> int:
    """How many code cells of the open notebook have not run."""
    return page.evaluate(f"() => {PROMPTS}.filter(text => !/\\[\\d+\\]/.test(text)).length")


def ran(browser, lab: str, notebook: str, watch: str | None = None):
    """A page with `notebook` open and run; its kernel is shut down afterwards."""
    page = browser.new_page(viewport=PROJECTOR)
    run_all(page, lab, notebook, watch)
    yield page
    page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    page.close()


@pytest.fixture(scope="module")
def training_flag(browser, lab):
    yield from ran(browser, lab, "01_training_flag.ipynb")


@pytest.fixture(scope="module")
def batchnorm_live(browser, lab):
    yield from ran(browser, lab, "03_batchnorm_live.ipynb", watch="live = utils.LivePlot(")


@pytest.fixture(scope="module")
def trainable_vs_training(browser, lab):
    yield from ran(browser, lab, "04_trainable_vs_training.ipynb")


def errors(page) -> list[str]:
    """The text of every error output in the open notebook, a widget that failed to render included."""
    outputs = page.evaluate(
        f"() => [...{NOTEBOOK}.querySelectorAll('.jp-OutputArea-output')]"
        ".map(output => [output.getAttribute('data-mime-type') || '', output.innerText])")
    return [text for mime, text in outputs
            if ("stderr" in mime and ("Traceback" in text or "Error" in text))
            or "Error displaying widget" in text]


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=False)


def output_of(page, code: str):
    """The output area of the first code cell containing `code`, scrolled into view."""
    cell = page.locator(".jp-CodeCell", has_text=code).first
    cell.scroll_into_view_if_needed()
    return cell.locator(".jp-Cell-outputArea")


@pytest.mark.parametrize("notebook", ["training_flag", "batchnorm_live", "trainable_vs_training"])
def test_an_interactive_notebook_runs_in_the_browser_without_an_error_output(notebook, request):
    page = request.getfixturevalue(notebook)
    assert errors(page) == []
    assert not_run(page) == 0


def test_the_matrix_explorer_shows_only_the_chosen_call(training_flag):
    explorer = output_of(training_flag, "utils.matrix_explorer(")
    rows = explorer.locator("tbody tr")
    everything = rows.count()
    explorer.locator(".widget-dropdown", has_text="call").locator("select").select_option("fit")
    training_flag.wait_for_function(
        "([table, everything]) => table.querySelectorAll('tbody tr').length < everything",
        arg=[explorer.element_handle(), everything], timeout=30_000)
    calls = explorer.locator("tbody tr td:nth-child(3)").all_inner_texts()
    explorer.scroll_into_view_if_needed()
    screenshot(training_flag, "matrix_explorer.png")
    assert calls and set(calls) == {"fit"}


def test_the_live_plot_leaves_its_last_frame(batchnorm_live):
    live = output_of(batchnorm_live, "utils.LivePlot(")
    screenshot(batchnorm_live, "live_plot.png")
    assert live.locator("img").count() == 1
    assert live.locator("img").evaluate("image => image.naturalWidth") > 0


def test_the_live_plot_shows_at_least_one_frame_per_25_training_steps(batchnorm_live):
    frames = batchnorm_live.evaluate("() => window.watchedFrames")
    seconds = (frames["end"] - frames["first"]) / 1000
    steps = 4 * 4000 // 32  # notebook 03's live cell: four epochs of 4,000 digits, batches of 32
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "live_plot_frames.txt").write_text(
        f"{frames['count']} distinct frames in {seconds:.1f} s while the cell ran "
        f"({frames['count'] / seconds:.1f} frames per second), {steps} training steps\n")
    assert frames["count"] >= steps / 25


def test_choosing_another_layer_in_the_batchnorm_explorer_redraws_its_picture(batchnorm_live):
    explorer = output_of(batchnorm_live, "utils.BatchNormExplorer(")
    image = explorer.locator("img.widget-image")
    before = image.get_attribute("src")
    explorer.locator(".widget-dropdown", has_text="layer").locator("select").select_option("conv_batchnorm")
    batchnorm_live.wait_for_function(
        "([image, before]) => image.src !== before", arg=[image.element_handle(), before], timeout=30_000)
    screenshot(batchnorm_live, "batchnorm_explorer.png")


def test_the_flags_panel_reruns_the_step_with_the_chosen_training_value(trainable_vs_training):
    panel = output_of(trainable_vs_training, "utils.FlagsPanel(")
    assert "model(x, training=None)" in panel.inner_text()
    panel.locator(".widget-toggle-buttons button", has_text="True").click()
    panel.locator("button", has_text="Run one training step").click()
    trainable_vs_training.wait_for_function(
        "panel => panel.innerText.includes('model(x, training=True)')",
        arg=panel.element_handle(), timeout=60_000)
    screenshot(trainable_vs_training, "flags_panel.png")


# Each output as the page draws it: its start, whether it is wider than its area, and for
# a printed table (two or more lines with columns set apart by spaces) how many lines it
# holds against how many lines the page shows it on. Prose may wrap; a table may not.
LAYOUT = f"""() => [...{NOTEBOOK}.querySelectorAll('.jp-OutputArea-output')].map(output => {{
    const pre = output.querySelector('pre');
    const found = {{text: output.innerText.slice(0, 100), wide: output.scrollWidth > output.clientWidth + 1,
                   lines: 0, shown: 0}};
    if (pre && pre.textContent.trim()) {{
        found.wide = found.wide || pre.scrollWidth > pre.clientWidth + 1;
        const lines = pre.textContent.replace(/\\n+$/, '').split('\\n');
        if (lines.filter(line => /\\S {{2,}}\\S/.test(line)).length < 2) return found;
        found.lines = lines.length;
        const range = document.createRange();
        range.selectNodeContents(pre);
        found.shown = new Set([...range.getClientRects()].filter(rect => rect.width > 0)
                                  .map(rect => Math.round(rect.top))).size;
    }}
    return found;
}})"""
# The screenshot shows the output that comes closest to the edge: the one most worth looking at.
WIDEST_INTO_VIEW = f"""() => {{
    const outputs = [...{NOTEBOOK}.querySelectorAll('.jp-OutputArea-output')]
        .filter(output => output.querySelector('table, pre'));
    const width = output => Math.max(...[...output.querySelectorAll('table, pre')].map(part => part.scrollWidth));
    const widest = outputs.sort((a, b) => width(b) - width(a))[0];
    if (widest) widest.scrollIntoView({{block: 'center'}});
}}"""
WIDGET_REPR = re.compile(r"\b(VBox|HBox|Box|Tab|Accordion)\(children=")


@pytest.fixture(scope="module")
def stored(browser, lab):
    """Each notebook's outputs as JupyterLab draws them at 1280x720 before anything runs."""
    page = browser.new_page(viewport=PROJECTOR)
    layouts = {}
    for notebook in STORED:
        open_notebook(page, lab, notebook)
        page.wait_for_timeout(500)  # the last outputs' fonts and images settle
        layouts[notebook] = page.evaluate(LAYOUT)
        page.evaluate(WIDEST_INTO_VIEW)
        screenshot(page, f"projector_{Path(notebook).stem}.png")
        page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    page.close()
    return layouts


@pytest.mark.parametrize("notebook", STORED)
def test_no_stored_output_is_wider_than_the_notebook_at_1280x720(stored, notebook):
    wide = [output["text"] for output in stored[notebook] if output["wide"]]
    assert wide == [], f"{notebook}: outputs wider than the output area at 1280x720: {wide}"


@pytest.mark.parametrize("notebook", STORED)
def test_no_stored_table_wraps_beyond_its_own_lines_at_1280x720(stored, notebook):
    wrapped = [(output["lines"], output["shown"], output["text"]) for output in stored[notebook]
               if output["shown"] > output["lines"]]
    assert wrapped == [], f"{notebook}: printed table wrapped (its lines, lines shown, start): {wrapped}"


@pytest.mark.parametrize("notebook", STORED)
def test_no_stored_output_is_a_widgets_python_repr(stored, notebook):
    reprs = [output["text"] for output in stored[notebook] if WIDGET_REPR.search(output["text"])]
    assert reprs == [], f"{notebook}: a widget's repr is all a reader without a kernel sees: {reprs}"


# Labels, descriptions and buttons whose text is cut off in a widget: by an ellipsis (wider
# than their own box), or by the output area's edge (a row of widgets wider than the screen).
CUT_LABELS = f"""() => [...{NOTEBOOK}.querySelectorAll(
        '.widget-label, .widget-label-basic, .widget-button, .jupyter-button, .widget-toggle-button')]
    .filter(element => {{
        if (element.offsetParent === null || !element.textContent.trim()) return false;
        const area = element.closest('.jp-OutputArea-output').getBoundingClientRect();
        return element.scrollWidth > element.clientWidth + 1
            || element.getBoundingClientRect().right > area.right + 1;
    }})
    .map(element => element.textContent.trim())"""


@pytest.mark.parametrize("notebook", ["training_flag", "batchnorm_live", "trainable_vs_training"])
def test_no_widget_label_is_cut_off_at_1280x720(notebook, request):
    page = request.getfixturevalue(notebook)
    assert page.evaluate(CUT_LABELS) == []
