"""Descriptions of a model's input and output tensors, shared by backends and the core."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Dim = int | str | None  # str or None: a dynamic dimension


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[Dim, ...]
    dtype: np.dtype

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) and d >= 0 for d in self.shape)

    def describe(self) -> str:
        dims = ", ".join(str(d) if isinstance(d, int) and d >= 0 else "?" for d in self.shape)
        return f"{self.name} [{dims}] {np.dtype(self.dtype).name}"


def describe_all(specs: Sequence[TensorSpec]) -> str:
    return "; ".join(s.describe() for s in specs) or "no outputs"
