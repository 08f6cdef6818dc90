"""``robo`` entry point: discovers every command module in this package and runs one command.

    robo demo
    robo data show VTI BND

A command module defines ``register(subparsers)`` that adds its parser(s) and sets ``func`` (a
callable taking the parsed args, returning an exit code). Heavy imports belong inside ``func`` so
that ``robo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from engine import __version__
from engine.errors import EngineError

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse with the usage-error exit code of ``robo`` (64, EX_USAGE; see robo/cli/_exit.py)."""

    def error(self, message: str) -> NoReturn:
        from robo.cli._exit import ExitCode

        self.print_usage(sys.stderr)
        self.exit(int(ExitCode.USAGE_ERROR), f"{self.prog}: usage error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full ``robo`` parser with every discovered command (sub-parsers inherit its class)."""
    parser = _Parser(
        prog="robo", description="adaptive-robo: goals-, values- and tax-aware household portfolios."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (adaptive-robo) {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("--log-json", action="store_true", help="log JSON lines (for services)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``robo``; an engine error prints its message (no traceback) and sets the exit code of its kind.

    Exit codes (robo/cli/_exit.py, docs/errors.md): 0 ok, 1 ran but failed, 2 input error, 3 engine error,
    4 needs approval, 64 usage error (argparse exits with it), 130 interrupted. Argument values are validated
    while parsing (robo/cli/_args.py), so a bad value is reported before any file or database is touched.
    """
    from robo.cli._exit import ExitCode, exit_code_for

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        from robo.cli._out import setup_logging

        setup_logging(args.verbose, json_lines=args.log_json)
        return int(args.func(args) or 0)
    except EngineError as exc:
        from rich.markup import escape

        from robo.cli._out import console

        console.print(f"[bold red]error:[/] {type(exc).__name__}: {escape(str(exc))}", highlight=False)
        logging.getLogger("robo").debug("engine error", exc_info=True)
        return int(exit_code_for(exc))
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
