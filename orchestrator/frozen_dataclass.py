"""`@frozen_dataclass`: `@dataclass(frozen=True, slots=True)` without generated code.

The standard decorator writes `__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__` and
`__delattr__` as source text for each class, and compiles them with `exec` every time the
module is imported: for the pipeline's values, most of what loading them cost, paid by every
command, `--help` and `--list` included. This one keeps the dataclass bookkeeping, so
`dataclasses.fields`, `replace` and `asdict` work as before, and gives every class the same
behaviour from the functions below, compiled once into this module's cached byte code.
Type checkers see a frozen dataclass (PEP 681's `dataclass_transform`).

Every field is set by `__init__` (no `InitVar`, `field(init=False)` or `__post_init__`), and
the classes are not subclassed: all that the pipeline's values need.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

T = TypeVar("T")

if TYPE_CHECKING:  # typing has it from Python 3.11 on; the checker is all that reads it
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: Any) -> Callable[[T], T]:
        return lambda decorated: decorated


class _Layout:
    """What the shared methods need to know of one class's fields."""

    __slots__ = ("astuple", "defaults", "factories", "known", "names")

    def __init__(self, fields: tuple[dataclasses.Field[Any], ...]) -> None:
        self.names = tuple(f.name for f in fields)
        self.defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
        self.known = frozenset(self.names)
        self.factories = {
            f.name: f.default_factory
            for f in fields
            if f.default_factory is not dataclasses.MISSING
        }
        getter = attrgetter(*self.names)
        #: The fields as one tuple, in order: what `==`, `hash` and pickling use.
        self.astuple: Callable[[object], tuple[Any, ...]] = (
            getter if len(self.names) > 1 else lambda obj: (getter(obj),)
        )


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def frozen_dataclass(cls: type[T]) -> type[T]:
    """The class as `@dataclass(frozen=True, slots=True)` makes it, without generated code."""
    for name, method in _METHODS.items():
        setattr(cls, name, method)
    made = dataclasses.dataclass(init=False, repr=False, eq=False, slots=True)(cls)
    made._layout = _Layout(dataclasses.fields(made))  # type: ignore[arg-type, attr-defined]
    return made


def _init(self: Any, /, *args: Any, **kwargs: Any) -> None:
    layout: _Layout = self._layout
    given = _bind(self, layout, args, kwargs) if args else kwargs
    if given.keys() != layout.known:  # fields left to their defaults, or a name of none
        given = _completed(self, layout, given)
    set_field = object.__setattr__
    for name, field_value in given.items():
        set_field(self, name, field_value)


def _bind(
    self: Any, layout: _Layout, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The arguments by name, the positional ones named in field order."""
    names = layout.names
    if len(args) > len(names):
        raise _error(self, f"takes {len(names)} positional arguments but {len(args)} were given")
    given = dict(zip(names, args, strict=False))  # too many: refused above
    if kwargs:
        if twice := given.keys() & kwargs.keys():
            raise _error(self, f"got multiple values for argument {min(twice)!r}")
        given.update(kwargs)
    return given


def _completed(self: Any, layout: _Layout, given: dict[str, Any]) -> dict[str, Any]:
    """The `given` fields and every other one's default; a name of no field, or a field
    without a default not given, is an error."""
    if unknown := given.keys() - layout.known:
        raise _error(self, f"got an unexpected keyword argument {min(unknown)!r}")
    completed = layout.defaults | given
    for name, make in layout.factories.items():
        if name not in completed:
            completed[name] = make()
    if len(completed) != len(layout.names):
        missing = ", ".join(repr(name) for name in layout.names if name not in completed)
        raise _error(self, f"missing required arguments: {missing}")
    return completed


def _error(self: Any, problem: str) -> TypeError:
    return TypeError(f"{type(self).__name__}() {problem}")


def _repr(self: Any) -> str:
    fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._layout.names)
    return f"{type(self).__qualname__}({fields})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    astuple = self._layout.astuple
    return astuple(self) == astuple(other)


def _hash(self: Any) -> int:
    return hash(self._layout.astuple(self))


def _setattr(self: Any, name: str, _value: object) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> list[Any]:
    return list(self._layout.astuple(self))


def _setstate(self: Any, state: list[Any]) -> None:
    for name, field_value in zip(self._layout.names, state, strict=True):
        object.__setattr__(self, name, field_value)


_METHODS: dict[str, Callable[..., Any]] = {
    "__init__": _init,
    "__repr__": _repr,
    "__eq__": _eq,
    "__hash__": _hash,
    "__setattr__": _setattr,
    "__delattr__": _delattr,
    # For pickle and copy, which would otherwise set the fields through __setattr__.
    "__getstate__": _getstate,
    "__setstate__": _setstate,
}
