"""The one-line command line of every program here, servers and harness alike: argparse whose error is one line
on stderr and exit 2 (no usage dump, never a traceback), and bounded number types that say what they take.

It imports nothing of the project: every package may use it.
"""

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

__all__ = ["OneLineParser", "bounded", "fail", "seconds"]

Number = TypeVar("Number", int, float)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage dump) and exit 2."""

    def error(self, message: str) -> NoReturn:
        fail(f"{self.prog}: {message} (see --help)")


def fail(message: str) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(2)


def bounded(kind: Callable[[str], Number], low: float, high: float, name: str) -> Callable[[str], Number]:
    """An argparse type: a `kind` number in [low, high] (float: above `low`)."""

    def convert(text: str) -> Number:
        value = kind(text)
        if not (low < value if kind is float else low <= value) or value > high:
            raise ValueError(text)
        return value

    convert.__name__ = name  # argparse names the type in its one-line error
    return convert


seconds = bounded(float, 0, 3600, "number of seconds (0 < S <= 3600)")
