"""What makes the doubles strict: no invented attributes, enums like pybind11's.

Reading an attribute a double does not define raises AttributeError, as on the real
module; Strict objects also refuse to have undeclared attributes set (pybind11 objects
refuse too), so `config.max_workspace_size = ...` (gone in TensorRT 10) fails here as there.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Strict:
    """Instances accept only the attributes their class declares in `_settable`."""

    _settable: ClassVar[frozenset[str]] = frozenset()

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or any(name in getattr(k, "_settable", ()) for k in type(self).__mro__):
            object.__setattr__(self, name, value)
            return
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")


class FakeEnum:
    """A pybind11-style enum member: `.name`, `.value`, int(), hashable, compared by value."""

    __members__: ClassVar[dict[str, FakeEnum]]

    def __init__(self, name: str, value: int) -> None:
        self._name = name
        self._value = value

    @property
    def name(self) -> str:
        return self._name

    @property
    def value(self) -> int:
        return self._value

    def __int__(self) -> int:
        return self._value

    def __index__(self) -> int:
        return self._value

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._value == self._value  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._value))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self._name}: {self._value}>"

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self._name}"


def make_enum(name: str, members: dict[str, int], bases: tuple[type, ...] = (FakeEnum,)) -> type:
    cls = type(name, bases, {"__qualname__": name})
    table = {}
    for member, value in members.items():
        table[member] = cls(member, value)
        setattr(cls, member, table[member])
    cls.__members__ = table  # type: ignore[attr-defined]
    return cls


def public_names(obj: Any) -> set[str]:
    """Names a double defines itself (not inherited from object, tuple, bytes...)."""
    return {n for n in vars(obj) if not n.startswith("_")}
