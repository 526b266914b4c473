"""`@frozen_dataclass` behaves as `@dataclass(frozen=True, slots=True)` does, value for value."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest

from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.models import Gate, JobSpec, RetryPolicy, Sweep, SweepParam


@frozen_dataclass
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()
    extra: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class StdPoint:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()
    extra: dict[str, int] = dataclasses.field(default_factory=dict)


@frozen_dataclass
class One:
    only: str


@dataclasses.dataclass(frozen=True, slots=True)
class StdOne:
    only: str


CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((1,), {}),
    ((1, 2), {}),
    ((), {"x": 1, "tags": ("a",)}),
    ((1,), {"extra": {"k": 1}}),
    ((1, 2, ("a", "b"), {}), {}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_fields_repr_and_asdict_are_the_standard_ones(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    ours, std = Point(*args, **kwargs), StdPoint(*args, **kwargs)
    assert repr(ours) == repr(std).replace("StdPoint", "Point")
    assert dataclasses.asdict(ours) == dataclasses.asdict(std)
    assert dataclasses.astuple(ours) == dataclasses.astuple(std)
    assert [f.name for f in dataclasses.fields(ours)] == [f.name for f in dataclasses.fields(std)]
    assert Point.__match_args__ == StdPoint.__match_args__


def test_equal_by_fields_and_hashed_as_the_standard_ones() -> None:
    assert Point(1, 2, ("a",)) == Point(x=1, y=2, tags=("a",))
    assert Point(1) != Point(2)
    assert Point(1) != StdPoint(1)  # type: ignore[comparison-overlap]
    assert Point(1).__eq__((1, 0, (), {})) is NotImplemented
    assert hash(Point(1, 2, ("a",), None)) == hash(StdPoint(1, 2, ("a",), None))  # type: ignore[arg-type]
    assert hash(One("a")) == hash(StdOne("a"))
    assert One("a") == One("a") and One("a") != One("b")
    with pytest.raises(TypeError, match="unhashable"):
        hash(Point(1))  # its dict field, as with the standard decorator


def test_every_field_is_frozen_and_there_is_no_other_attribute() -> None:
    point = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'y'"):
        del point.y
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.z = 3  # type: ignore[attr-defined]
    assert not hasattr(point, "__dict__")
    assert Point.__slots__ == ("x", "y", "tags", "extra")  # type: ignore[attr-defined]


def test_a_factory_makes_a_new_default_each_time() -> None:
    first, second = Point(1), Point(1)
    assert first.extra == {} and first.extra is not second.extra
    assert JobSpec("a").retry == RetryPolicy()


def test_replace_copy_and_pickle_give_equal_values() -> None:
    gate = Gate("accuracy", ">=", 0.9)
    spec = JobSpec("rf", script="train_rf.py", gates=(gate,), tags=("smoke",))
    assert dataclasses.replace(spec, epochs=3) == JobSpec(
        "rf", script="train_rf.py", gates=(gate,), tags=("smoke",), epochs=3
    )
    assert dataclasses.replace(spec) == spec
    for value in (gate, spec, Point(1, extra={"k": 2})):
        assert copy.copy(value) == value
        assert copy.deepcopy(value) == value
        assert pickle.loads(pickle.dumps(value)) == value


def test_a_sweeps_repr_names_its_study_as_before() -> None:
    """The study digest hashes this repr: a different text would start every study anew."""
    sweep = Sweep("rmse", params=(SweepParam("lr", "float", 0.01, 0.3, log=True),))
    assert repr(sweep) == (
        "Sweep(metric='rmse', direction='maximize', n_trials=10, timeout=None, "
        "params=(SweepParam(name='lr', kind='float', low=0.01, high=0.3, log=True, "
        "choices=()),), sampler='tpe', pruner='median', parallel=1, digest='')"
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, r"Point\(\) missing required arguments: 'x'"),
        ((), {"y": 1}, r"missing required arguments: 'x'"),
        ((1,), {"z": 1}, r"Point\(\) got an unexpected keyword argument 'z'"),
        ((1, 2, (), {}, 5), {}, r"Point\(\) takes 4 positional arguments but 5 were given"),
        ((1,), {"x": 2}, r"Point\(\) got multiple values for argument 'x'"),
    ],
)
def test_wrong_arguments_are_a_type_error(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)
    with pytest.raises(TypeError):
        StdPoint(*args, **kwargs)
