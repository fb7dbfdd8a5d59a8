"""The README front page and the docs/ pages: links resolve, commands listed.

Fast checks, no training: relative Markdown links and images point to
existing files, every top-level `keras-gen` command is named in the README,
the README stays short, and its Quick start block keeps the two commands that
`.ci/run` relies on.
"""

import argparse
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 220

# [text](target) and ![alt](target), with an optional "title"; nested
# brackets in the text are rare enough in these pages to be left out.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _relative_links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))  # code is not links
    text = re.sub(r"`[^`\n]*`", "", text)  # nor is inline code
    targets = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # http(s), mailto: ..., or an anchor in the same page
        targets.append(target.split("#", 1)[0])
    return targets


def quick_start_commands(text: str) -> list[str]:
    """The commands of the Quick start block, parsed as `.ci/run` does."""
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", section, re.S).group(1)
    return [
        ln.strip()
        for ln in block.splitlines()
        if ln.strip() and not ln.strip().startswith("#")
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    missing = [
        target
        for target in _relative_links(page)
        if not (page.parent / target).exists()
    ]
    assert not missing, f"{page.relative_to(ROOT)}: broken links {missing}"


def test_links_are_found():
    # Guards the parser itself: the README links to the docs and to a picture.
    targets = _relative_links(README)
    assert "docs/index.md" in targets
    assert any(t.endswith(".png") for t in targets)


def test_every_cli_command_is_in_readme():
    from keras_gen.cli import build_parser

    parser = build_parser()
    subparsers = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    commands = list(subparsers.choices)
    assert "train" in commands and "series" in commands
    text = README.read_text(encoding="utf-8")
    missing = [c for c in commands if f"keras-gen {c}" not in text]
    assert not missing, f"README.md does not mention {missing}"


def test_readme_is_a_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines; move details to docs/ "
        f"(at most {MAX_README_LINES})"
    )


def test_quick_start_has_two_commands():
    commands = quick_start_commands(README.read_text(encoding="utf-8"))
    assert len(commands) == 2, commands
    assert "keras-gen train" in commands[0]
    assert "pytest" in commands[1]


def test_ci_parses_the_readme_like_this_test():
    # If .ci/run changes how it finds the block, this test must follow it.
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'text.split("## Quick start", 1)[1]' in ci
    assert r're.search(r"```(?:bash|sh)?\n(.*?)```", section, re.S)' in ci
