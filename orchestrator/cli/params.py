"""How one value, typed as a flag or set as a `TRAIN_ORCH_*` variable, becomes a Python value.

The parameter types, the option class that names where a bad value came from, the
option decorators every command shares, and the parsers of the values with a syntax of
their own (selectors, shell words, JSON id lists).
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource

from orchestrator.errors import OrchestratorError, SelectionError

ENV_PREFIX = "TRAIN_ORCH"

#: How a CI form or workflow spells a boolean; read the same wherever a count or an id
#: list can also be a plain yes or no (`-v`, `--force`).
TRUE_WORDS = frozenset({"true", "yes", "on"})
FALSE_WORDS = frozenset({"false", "no", "off"})


class Verbosity(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.4
    """`-vv` counts; from the environment a CI boolean ("true"/"false") works too."""

    name = "count"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text in TRUE_WORDS:
            return 1
        if text in FALSE_WORDS or not text:
            return 0
        try:
            return int(text)
        except ValueError:
            self.fail(f"{value!r} is neither a count nor true/false", param, ctx)


class Selectors(click.types.StringParamType):
    """Job selectors (`--only`, `--exclude`, `--force`), whose own syntax splits them.

    Their environment variable is passed whole rather than split at spaces: a quoted id
    with a space (`TRAIN_ORCH_ONLY="'train eval' xgboost"`) must reach the parser intact.
    """

    name = "selectors"

    def split_envvar_value(self, rv: str) -> list[str]:
        return [rv]


class Finite(click.FloatRange):
    """A number range without `inf` and `nan`: `--timeout inf` meant no time limit at all,
    and `nan` passes every range check (each comparison with it is false)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


class Size(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.4
    """A memory size: bytes, or 512M, 2G (config's `memory_limit:` syntax)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from orchestrator.config.validate import parse_size

        size = parse_size(str(value))
        if size is None or size < 1 << 20:
            self.fail(f"{value!r} is not a size of at least 1M, like 512M or 2G", param, ctx)
        return size


class DeviceList(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.4
    """GPU devices as CUDA_VISIBLE_DEVICES lists them: `0,1,2`, UUIDs, or `none`."""

    name = "ids"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        if text.lower() == "none":
            return ()
        if not text:
            self.fail("empty: give device ids like 0,1 (or none)", param, ctx)
        devices = [part.strip() for part in text.split(",")]
        bad = next(
            (d for d in devices if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9/_.:-]*", d)), None
        )
        if bad is not None:
            self.fail(f"{bad!r} in {text!r} is not a device id like 0 or GPU-8a1f...", param, ctx)
        repeated = next((d for d in devices if devices.count(d) > 1), None)
        if repeated is not None:
            self.fail(f"{repeated!r} is listed twice in {text!r}", param, ctx)
        return tuple(devices)


class BadValue(click.ClickException):
    """A bad option value: one line, exit 2, like every other input error of ours."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        from orchestrator.report import console

        console.print_error(OrchestratorError(self.message))


class EnvAwareOption(click.Option):
    """An option that blames a bad value on where it came from.

    Click names the option even when the value came from its variable, and names the
    variable as well when the value was typed; a CI user then hunts for the wrong one.
    """

    def source(self, ctx: click.Context) -> str:
        """The variable that gave this option its value, else the option as typed."""
        typed = max(self.opts, key=len)
        if self.name and ctx.get_parameter_source(self.name) is ParameterSource.ENVIRONMENT:
            return next((name for name in self.envvars(ctx) if os.environ.get(name)), typed)
        return typed

    def envvars(self, ctx: click.Context) -> list[str]:
        """The variables this option is read from, as click looks them up."""
        names = [self.envvar] if isinstance(self.envvar, str) else list(self.envvar or ())
        if ctx.auto_envvar_prefix and self.name:  # as click derives it
            names.append(f"{ctx.auto_envvar_prefix}_{self.name.upper()}")
        return names

    def get_error_hint(self, ctx: click.Context | None) -> str:
        return f"'{self.source(ctx)}'" if ctx else super().get_error_hint(ctx)

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        try:
            return super().process_value(ctx, value)
        except click.BadParameter as error:  # from its type or its callback
            error.ctx, error.param = ctx, self
            raise BadValue(error.format_message()) from None


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def option(*decls: str, **kwargs: Any) -> Decorator:
    """An option of ours: its variable shown in --help, a bad value blamed on its source."""
    return click.option(*decls, cls=EnvAwareOption, show_envvar=True, **kwargs)


def format_option(*choices: str, help: str, **kwargs: Any) -> Decorator:
    """`--format`, as every command spells it; the first choice is the default."""
    return option(
        "--format",
        "output_format",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=help,
        **kwargs,
    )


def notify_option() -> Decorator:
    """`--notify/--no-notify`, as `run` and `merge` spell it (TRAIN_ORCH_NOTIFY=off too)."""
    return option(
        "--notify/--no-notify",
        envvar=f"{ENV_PREFIX}_NOTIFY",
        default=True,
        help="Send the config's notify: messages when the run ends [default: on]. "
        "--no-notify (TRAIN_ORCH_NOTIFY=off): a local rerun that must not page the team.",
    )


def output_root_option(help: str, default: str | None = ".", shown: str | bool = True) -> Decorator:
    """`--output-root`, as every command spells it."""
    return option("--output-root", default=default, show_default=shown, metavar="DIR", help=help)


def selectors(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """The values, once their quotes are known to close (the jobs are not known yet)."""
    assert isinstance(param, EnvAwareOption)
    from orchestrator.jobs import parse_selectors

    try:
        parse_selectors(values, param.source(ctx))
    except SelectionError as error:
        raise BadValue(str(error)) from None
    return values


def forced(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """`--force`'s values, where a bare yes or no means all or none.

    As the flags read them, so a workflow's boolean input passed as `TRAIN_ORCH_FORCE`
    forces everything or nothing, never a job named `true`; that one is `--force "'true'"`.
    """
    return selectors(ctx, param, forced_selectors(values))


def forced_selectors(values: tuple[str, ...]) -> tuple[str, ...]:
    """`--force`'s values with a bare yes made `*` (all) and a bare no dropped (none)."""
    words = [value.strip().lower() for value in values]
    return tuple(
        "*" if word in TRUE_WORDS else value
        for value, word in zip(values, words, strict=True)
        if word not in FALSE_WORDS
    )


def shell_words(text: str | None) -> tuple[str, ...]:
    """`--extra-args`, split as a shell would split it."""
    try:
        return tuple(shlex.split(text or ""))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def id_list(text: str | None) -> tuple[str, ...] | None:
    """A JSON list of job ids: ids may hold spaces and commas, so no other separator is safe."""
    if not text:
        return None
    import json

    try:
        ids = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON ({exc})") from None
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise click.BadParameter("expected a JSON list of job ids")
    return tuple(ids)
