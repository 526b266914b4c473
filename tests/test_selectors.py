"""Job selectors (`--only`, `--exclude`, `--force`) as values: every id can be named.

Ids come from file names and YAML keys, so they may hold spaces, commas, quotes, `*` or
`tag:`; a quoted selector names exactly one id, while matrix ids such as
`rf[seed=0,depth=4]` keep working unquoted.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from orchestrator.errors import SelectionError
from orchestrator.jobs import Selector, forced, parse_selectors, quoted, select
from orchestrator.models import JobSpec

#: Ids the old parser could not name, next to ids a naive quoting would confuse them with.
IDS = (
    "train eval",
    "train",
    "x,y",
    "x",
    "it's",
    "a*",
    "ab",
    "tag:fast",
    "rf[seed=0,depth=4]",
    "rf[seed=1,depth=4]",
)


def specs(*ids: str) -> tuple[JobSpec, ...]:
    return tuple(JobSpec(id=job_id, tags=("fast",)) for job_id in ids)


@given(st.text(min_size=1))
@example("train eval")
@example("x,y")
@example('it\'s "quoted"')
@example("'")
@example("a*[b")
def test_a_quoted_id_parses_back_to_exactly_that_id(job_id: str) -> None:
    assert parse_selectors([quoted(job_id)]) == (Selector(job_id, exact=True),)


@pytest.mark.parametrize("job_id", IDS)
def test_every_id_is_selectable_alone(job_id: str) -> None:
    chosen = select(specs(*IDS), [quoted(job_id)], [])
    assert [s.id for s in chosen] == [job_id]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["'train eval',x"], ["train eval", "x"]),
        (['"x,y" train'], ["train", "x,y"]),
        (["rf[seed=0,depth=4]"], ["rf[seed=0,depth=4]"]),  # matrix ids stay unquoted
        (["rf[*]"], ["rf[seed=0,depth=4]", "rf[seed=1,depth=4]"]),
        (["a*"], ["a*", "ab"]),  # unquoted: a glob
        (["'a*'"], ["a*"]),  # quoted: the id
        (["'tag:fast'"], ["tag:fast"]),
        (["'it'\"'\"'s'"], ["it's"]),
    ],
)
def test_selection(values: list[str], expected: list[str]) -> None:
    assert sorted(s.id for s in select(specs(*IDS), values, [])) == sorted(expected)


def test_a_matrix_jobs_name_selects_its_combinations() -> None:
    """As in `needs:`; `--only rf` was "no such job", with no hint at `rf[*]`."""
    members = (
        JobSpec(id="rf[seed=0]", tags=("matrix:rf",)),
        JobSpec(id="rf[seed=1]", tags=("matrix:rf",)),
        JobSpec(id="rf_small"),
    )
    assert [s.id for s in select(members, ["rf"], [])] == ["rf[seed=0]", "rf[seed=1]"]
    assert [s.id for s in select(members, [], ["rf"])] == ["rf_small"]
    assert forced(members, ["rf"]) == ("rf[seed=0]", "rf[seed=1]")
    with pytest.raises(SelectionError, match=r"^--only 'rf': no such job"):
        select(members, ["'rf'"], [])  # quoted: the one id `rf`, which no job has


def test_exclude_takes_quoted_ids_too() -> None:
    chosen = select(specs(*IDS), ["train*"], ["'train eval'"])
    assert [s.id for s in chosen] == ["train"]


def test_an_unclosed_quote_is_an_error_naming_the_flag() -> None:
    with pytest.raises(SelectionError, match=r"^--exclude 'train eval: no closing '$"):
        select(specs(*IDS), [], ["'train eval"])


def test_a_quoted_unknown_id_is_shown_quoted_with_the_near_match() -> None:
    with pytest.raises(SelectionError) as caught:
        select(specs(*IDS), ["'train evl'"], [])
    assert str(caught.value).startswith(
        "--only 'train evl': no such job; did you mean 'train eval' or 'train'?"
    )


@pytest.mark.parametrize(
    ("force", "expected"),
    [
        ((), ()),
        (("*",), ("*",)),
        (("x",), ("x",)),
        (("'x,y'", "train*"), ("train eval", "train", "x,y")),
        (("rf[*]",), ("rf[seed=0,depth=4]", "rf[seed=1,depth=4]")),
    ],
)
def test_forced_names_ids_as_only_does(force: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert forced(specs(*IDS), force) == expected


def test_forcing_an_unknown_id_is_an_error_with_a_hint() -> None:
    with pytest.raises(SelectionError, match=r"^--force trian: no such job; did you mean 'train'"):
        forced(specs(*IDS), ["trian"])
