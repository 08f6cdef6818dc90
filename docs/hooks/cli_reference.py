"""MkDocs hook: replaces ``<!-- robo-cli-reference -->`` in a page with every ``robo`` command's ``--help``.

The CLI reference is generated from the parser itself at build time, so it cannot drift from the code. It imports
``robo.cli`` only (each command's heavy imports run inside its ``func``), and touches no network.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

MARKER = "<!-- robo-cli-reference -->"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps sub-parsers only on this private list
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _sections(parser: argparse.ArgumentParser, path: str, depth: int) -> list[str]:
    out = [f"{'#' * depth} `{path}`", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in _subcommands(parser).items():
        out += _sections(sub, f"{path} {name}", min(depth + 1, 4))
    return out


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill the marker with the help of ``robo`` and of every command and sub-command, in order."""
    if MARKER not in markdown:
        return markdown
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal width; fix it so builds are reproducible
    from robo.cli import build_parser

    return markdown.replace(MARKER, "\n".join(_sections(build_parser(), "robo", 2)))
