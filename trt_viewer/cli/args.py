"""Argument types: each refuses a bad value with a sentence saying what was expected
(argparse alone would print the converter's name: "invalid _size value: 'abc'")."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T", int, float)


def _parse(text: str, parse: Callable[[str], T], what: str) -> T:
    try:
        value = parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def whole(text: str) -> int:
    return _parse(text, int, "a whole number")


def positive(text: str) -> int:
    value = _parse(text, int, "a whole number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return value


def not_negative(text: str) -> int:
    value = _parse(text, int, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def size(text: str) -> int:
    """A model input side: a positive multiple of 32 (YOLOX's largest stride)."""
    value = _parse(text, int, "a whole number")
    if value <= 0 or value % 32:
        raise argparse.ArgumentTypeError(f"{value} is not a positive multiple of 32")
    return value


def fraction(text: str) -> float:
    value = _parse(text, float, "a number between 0 and 1")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return value


def positive_number(text: str) -> float:
    value = _parse(text, float, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value
