"""Make room for a lesson: shift every notebook from a number on, and every reference to it, up by one.

    python -m tools.renumber 02

renames `notebooks/02_*.ipynb` to `03_*` (and so on up), then rewrites, in every text file the
repository tracks, the references a reader follows: file names (`02_batchnorm_live.ipynb`),
"notebook 02" and lists after it ("notebooks 08 and 09", "notebooks 01, 02 and 03"), the
two-digit rows of the README's tables and notebook 00's map, link texts such as
`[02 BatchNormalization, live]`, and each notebook's title cell (`# 2. ...`). It prints what it
left for a person: two-digit numbers near the word "notebook" it did not recognise.
"""

import argparse
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TEXT_SUFFIXES = {".md", ".py", ".ipynb", ".json", ".txt", ".toml", ".ini", ".cfg", ""}

NUMBER = r"\d\d"
JOIN = r"(?:,\s*|,?\s+and\s+|\s+to\s+|\s+or\s+|\s*[-\u2013+]\s*)"
FILE_NAME = re.compile(rf"\b({NUMBER})(_[a-z0-9_]+\.ipynb)")
NOTEBOOK_LIST = re.compile(rf"(\b[Nn]otebooks?(?:\\n|\s)+)({NUMBER}(?:{JOIN}{NUMBER})*)\b")
TABLE_ROW = re.compile(rf"^(\s*\"?\| )({NUMBER})( )", flags=re.MULTILINE)
LINK_TEXT = re.compile(rf"(\[)({NUMBER})( [A-Z`])")
LEFT_FOR_A_PERSON = re.compile(
    rf"(?<![Nn]otebook )(?<![Nn]otebooks )(?<!\\n)\b{NUMBER}'s\b|\bin {NUMBER}\b|\({NUMBER}-{NUMBER}\)")
TITLE = re.compile(r'"# (\d+)\. ')


def shifted(number: str, start: int) -> str:
    """`number` moved up by one if it is `start` or later, keeping its two digits."""
    return f"{int(number) + 1:02d}" if int(number) >= start else number


def rewrite(text: str, start: int) -> str:
    """`text` with every recognised reference to a notebook from `start` on moved up by one."""
    def group(match: re.Match) -> str:
        return match.group(1) + shifted(match.group(2), start) + match.group(3)

    def numbers(match: re.Match) -> str:
        return match.group(1) + re.sub(NUMBER, lambda m: shifted(m.group(0), start), match.group(2))

    text = FILE_NAME.sub(lambda m: shifted(m.group(1), start) + m.group(2), text)
    text = NOTEBOOK_LIST.sub(numbers, text)
    text = TABLE_ROW.sub(group, text)
    return LINK_TEXT.sub(group, text)


def retitle(path: Path, start: int) -> None:
    """Renumber the `# N. Title` heading that opens the notebook at `path`."""
    text = path.read_text()
    match = TITLE.search(text)
    if match and int(match.group(1)) >= start:
        path.write_text(text[:match.start(1)] + str(int(match.group(1)) + 1) + text[match.end(1):])


def tracked_text_files() -> list[Path]:
    """Every file git tracks whose suffix says it is text."""
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in names.split() if Path(name).suffix in TEXT_SUFFIXES and (ROOT / name).is_file()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("start", help="the number the new lesson takes, e.g. 02")
    start = int(parser.parse_args().start)
    for path in tracked_text_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        new = rewrite(text, start)
        if new != text:
            path.write_text(new)
    for path in sorted(NOTEBOOKS.glob("*.ipynb"), reverse=True):
        if int(path.name[:2]) >= start:
            target = path.with_name(shifted(path.name[:2], start) + path.name[2:])
            subprocess.run(["git", "mv", str(path), str(target)], cwd=ROOT, check=True)
            retitle(target, start)
    for path in tracked_text_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if LEFT_FOR_A_PERSON.search(line):
                print(f"{path.relative_to(ROOT)}:{number}: check by hand: {line.strip()[:160]}")


if __name__ == "__main__":
    main()
