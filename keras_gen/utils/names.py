"""One rule for the names that become folders: run names, model names, presets.

A name is 1 to 100 characters of letters, digits, `_`, `-` and `.`, and does
not start with `.`: so never `.`, `..` or a hidden folder, and never a path
separator, whatever the caller joins it to.

Example:
>>> check_name("bedroom_gan-2.1")
'bedroom_gan-2.1'
>>> is_valid_name("..")
False
"""

from __future__ import annotations

import re

NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")


def is_valid_name(name: str) -> bool:
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None


def check_name(name: str, what: str = "model name") -> str:
    """`name` if it is a safe folder name, else ValueError naming `what`."""
    if not is_valid_name(name):
        raise ValueError(
            f"{what} {name!r} is not allowed: use 1-100 letters, digits, '_', "
            "'-' or '.', not starting with '.'"
        )
    return name
