"""What discover and merge produce: a script found on disk, and a job as the user defined it.

discover → `DiscoveredScript`; config + merge → `JobSpec`, with the vocabulary both
share (the standard flags, priorities, `auto`).
"""

from __future__ import annotations

from dataclasses import field
from typing import Literal

from orchestrator.frozen_dataclass import frozen_dataclass
from orchestrator.models.settings import Gate, Promote, Register, RetryPolicy, Sweep

#: Flags that the orchestrator itself fills in, by their canonical spelling.
STANDARD_FLAGS = ("output_dir", "epochs", "folds", "seed")

#: The standard flags a script may spell its own way (see `orchestrator.knobs`).
KNOB_NAMES = ("output_dir", "epochs", "seed")

#: Job priorities, most urgent first (the four that seed job managers use).
PRIORITIES = ("critical", "high", "normal", "low")

Pairs = tuple[tuple[str, str], ...]
ParamValue = str | int | float | bool | tuple[str, ...]


@frozen_dataclass
class Knob:
    """How a script takes one standard setting in its own dialect: `--num_train_epochs`
    (a flag), `trainer.max_epochs` (an override, `key=value`) or `OUTPUT_DIR` (a variable)."""

    #: One of KNOB_NAMES.
    name: str
    spelling: str
    #: "flag", "override" or "env".
    style: str
    #: Where the mapping comes from: "transformers TrainingArguments", "hydra", "flag_names".
    source: str
    #: "certain" (passed) or "likely" (passed only with `knobs: likely`).
    confidence: str


@frozen_dataclass
class DiscoveredScript:
    """A `train_*.py` found on disk, with the flags its source declares."""

    path: str
    job_id: str
    flags: tuple[str, ...] = ()
    #: Why the script cannot run (e.g. a syntax error); such a script is listed, never run.
    error: str | None = None
    #: Its standard settings under other names, found by its CLI library's conventions.
    knobs: tuple[Knob, ...] = ()
    #: What its CLI needs before any flag (LightningCLI's `fit`).
    args_prefix: tuple[str, ...] = ()
    #: (knob, why it is not mapped): a look-alike rejected, a config chosen at run time.
    knob_notes: Pairs = ()


#: `memory: auto`, `cpus: auto`: the need learned from the job's last measured run.
AUTO = "auto"
Auto = Literal["auto"]


@frozen_dataclass
class JobSpec:
    """One job as the user defined it: discovery merged with every config file."""

    id: str
    script: str | None = None
    command: tuple[str, ...] | None = None
    flags: tuple[str, ...] = ()
    error: str | None = None
    args: tuple[str, ...] = ()
    params: tuple[tuple[str, ParamValue], ...] = ()
    epochs: int | None = None
    folds: int | None = None
    seed: int | None = None
    optional: bool = False
    tags: tuple[str, ...] = ()
    retries: int = 0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    grace: float | None = None
    cpus: int | Auto = 1
    #: Bytes of memory the job holds while it runs, like its `cpus` (None: none asked).
    memory: int | Auto | None = None
    #: Bytes the job's processes may use together (None: no limit).
    memory_limit: int | None = None
    gpus: float = 0.0
    resources: tuple[tuple[str, float], ...] = ()
    priority: str = "normal"
    gates: tuple[Gate, ...] = ()
    needs: tuple[str, ...] = ()
    #: Env var names whose values are secrets, besides those named like one (TOKEN, KEY...).
    redact: tuple[str, ...] = ()
    #: Parameter combinations: the job expands into one job per combination.
    matrix: tuple[Pairs, ...] = ()
    sweep: Sweep | None = None
    register: Register | None = None
    #: Globs of files whose content decides, with the script's, whether the job changed.
    inputs: tuple[str, ...] = ()
    cache: bool = True
    env: Pairs = ()
    enabled: bool = True
    description: str = ""
    flag_names: Pairs = ()
    knobs: tuple[Knob, ...] = ()
    knob_notes: Pairs = ()
    #: "certain" passes only certain knobs; "likely" (config `knobs:`) passes likely ones too.
    knob_level: str = "certain"
    #: Before every flag: a subcommand (`fit`), detected or from config `args_prefix:`.
    args_prefix: tuple[str, ...] = ()
    headline: str | None = None
    promote: Promote | None = None
    #: Where the job came from, for messages: a script path and/or "configs/x.yaml:12".
    origin: tuple[str, ...] = ()
    #: Config key → (file, line) where it was set, for errors found after loading.
    locations: tuple[tuple[str, str, int], ...] = ()
