"""Config validation as values: YAML text in, the exact error or the normalised fields out.

In process (no subprocess): each case goes through `load_configs` as the CLI loads a file.
Every key of the table has at least one refused value below (checked by the last test),
so a new key arrives with its message pinned.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import JOB_FIELDS, TOP_LEVEL, Config, load_configs
from orchestrator.errors import ConfigError
from orchestrator.gates import parse_gate
from orchestrator.models import Promote


def load(root: Path, *texts: str) -> Config:
    """Load `texts` as configs/1.yaml, configs/2.yaml, ... in that order, each one asked
    for by name (so a profile is checked too)."""
    paths = []
    for number, text in enumerate(texts, 1):
        path = root / "configs" / f"{number}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths.append(path)
    return load_configs(paths, root, explicit=paths)


def refusal(root: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(root, text)
    return str(caught.value)


def job(field: str) -> str:
    """A one-job config setting `field`, written as YAML (`field` is the line's text)."""
    return f"jobs:\n  a:\n    {field}\n"


F = "configs/1.yaml"
SWEEP = "sweep: {metric: m, params: {n: {int: [0, 1]}}"

# (the key whose check refuses it, YAML text, the whole message)
REFUSED: list[tuple[str, str, str]] = [
    # whole numbers
    (
        "epochs",
        job("epochs: ten"),
        f"{F}:3:5: jobs.a.epochs: expected a whole number, got str 'ten'",
    ),
    ("epochs", job("epochs: 0"), f"{F}:3:5: jobs.a.epochs: must be at least 1, got 0"),
    ("folds", job("folds: 1"), f"{F}:3:5: jobs.a.folds: must be at least 2, got 1"),
    ("seed", job("seed: -1"), f"{F}:3:5: jobs.a.seed: must be at least 0, got -1"),
    ("seed", job("seed: true"), f"{F}:3:5: jobs.a.seed: expected a whole number, got bool True"),
    (
        "retries",
        job("retries: 1.5"),
        f"{F}:3:5: jobs.a.retries: expected a whole number, got float 1.5",
    ),
    ("cpus", job("cpus: 0"), f"{F}:3:5: jobs.a.cpus: must be at least 1, got 0"),
    # amounts of time and other numbers
    (
        "retry_delay",
        job("retry_delay: soon"),
        f"{F}:3:5: jobs.a.retry_delay: expected a number of seconds, got str 'soon'",
    ),
    (
        "retry_delay",
        job("retry_delay: -2"),
        f"{F}:3:5: jobs.a.retry_delay: must not be negative, got -2",
    ),
    (
        "retry_delay",
        job("retry_delay: .inf"),
        f"{F}:3:5: jobs.a.retry_delay: expected a finite number, got inf",
    ),
    (
        "retry_max_delay",
        job("retry_max_delay: -1"),
        f"{F}:3:5: jobs.a.retry_max_delay: must not be negative, got -1",
    ),
    (
        "backoff",
        job("backoff: 0.5"),
        f"{F}:3:5: jobs.a.backoff: expected a factor of at least 1, got 0.5",
    ),
    (
        "backoff",
        job("backoff: .nan"),
        f"{F}:3:5: jobs.a.backoff: expected a finite number, got nan",
    ),
    ("timeout", job("timeout: 0"), f"{F}:3:5: jobs.a.timeout: must be more than 0 seconds"),
    ("grace", job("grace: -1"), f"{F}:3:5: jobs.a.grace: must not be negative, got -1"),
    ("gpus", job("gpus: -1"), f"{F}:3:5: jobs.a.gpus: must not be negative, got -1"),
    (
        "resources",
        job("resources: 2"),
        f"{F}:3:5: jobs.a.resources: expected a mapping of name: amount, got int",
    ),
    (
        "resources",
        job("resources: {tpu: -1}"),
        f"{F}:3:17: jobs.a.resources.tpu: must not be negative, got -1",
    ),
    (
        "resources",
        job("resources: {tpu: lots}"),
        f"{F}:3:17: jobs.a.resources.tpu: expected an amount, got str 'lots'",
    ),
    (
        "resources",
        job("resources: {CPU: 2}"),
        f"{F}:3:17: jobs.a.resources.CPU: Ray's own resource: ask with cpus:",
    ),
    (
        "resources",
        job("resources: {object_store_memory: 2}"),
        f"{F}:3:17: jobs.a.resources.object_store_memory: set by Ray",
    ),
    (
        "resources",
        job("resources: {tpu: 0.00005}"),
        f"{F}:3:17: jobs.a.resources.tpu: Ray counts in steps of 0.0001, got 5e-05",
    ),
    (
        "memory",
        job("memory: 4 gigs"),
        f"{F}:3:5: jobs.a.memory: expected a size like 512M or 2G, got str '4 gigs'",
    ),
    (
        "memory",
        job("memory: 0"),
        f"{F}:3:5: jobs.a.memory: must be at least 1M, got 0",
    ),
    (
        "memory_limit",
        job("memory_limit: lots"),
        f"{F}:3:5: jobs.a.memory_limit: expected a size like 512M or 2G, got str 'lots'",
    ),
    (
        "memory_limit",
        job("memory_limit: 10K"),
        f"{F}:3:5: jobs.a.memory_limit: must be at least 1M, got '10K'",
    ),
    # choices
    (
        "retry_on",
        job("retry_on: crashed"),
        f"{F}:3:5: jobs.a.retry_on.0: unknown value 'crashed'; "
        "one of failed, timed_out, out_of_memory",
    ),
    (
        "retry_on",
        job("retry_on: [failed, timeout]"),
        f"{F}:3:24: jobs.a.retry_on.1: unknown value 'timeout'; "
        "did you mean 'timed_out'? (one of failed, timed_out, out_of_memory)",
    ),
    (
        "priority",
        job("priority: hihg"),
        f"{F}:3:5: jobs.a.priority: unknown value 'hihg'; "
        "did you mean 'high'? (one of critical, high, normal, low)",
    ),
    (
        "knobs",
        job("knobs: likley"),
        f"{F}:3:5: jobs.a.knobs: unknown value 'likley'; "
        "did you mean 'likely'? (one of certain, likely)",
    ),
    (
        "args_prefix",
        job("args_prefix: {fit: 1}"),
        f"{F}:3:5: jobs.a.args_prefix: expected a list of strings, got dict",
    ),
    # true or false
    (
        "optional",
        job("optional: yes please"),
        f"{F}:3:5: jobs.a.optional: expected true or false, got str 'yes please'",
    ),
    ("enabled", job("enabled: 1"), f"{F}:3:5: jobs.a.enabled: expected true or false, got int 1"),
    (
        "cache",
        job("cache: no thanks"),
        f"{F}:3:5: jobs.a.cache: expected true or false, got str 'no thanks'",
    ),
    # environment
    ("env", job("env: [A]"), f"{F}:3:5: jobs.a.env: expected a mapping of NAME: value, got list"),
    (
        "env",
        job("env: {'A=B': x}"),
        f"{F}:3:11: jobs.a.env.A=B: environment variable name contains '='",
    ),
    (
        "env",
        job("env: {A: {b: 1}}"),
        f"{F}:3:11: jobs.a.env.A: expected a string or number, got dict",
    ),
    (
        "env",
        job('env: {A: "x\\0y"}'),
        f"{F}:3:11: jobs.a.env.A: must not contain a NUL character, got 'x\\x00y'",
    ),
    # lists of names
    ("tags", job("tags: {a: 1}"), f"{F}:3:5: jobs.a.tags: expected a list of strings, got dict"),
    (
        "redact",
        job("redact: [[TOKEN]]"),
        f"{F}:3:14: jobs.a.redact.0: expected a string or number, got list",
    ),
    ("needs", job("needs: 3"), f"{F}:3:5: jobs.a.needs: expected a list of strings, got int"),
    (
        "inputs",
        job("inputs: {a: b}"),
        f"{F}:3:5: jobs.a.inputs: expected a list of strings, got dict",
    ),
    # what is run
    (
        "args",
        job("args: 3"),
        f"{F}:3:5: jobs.a.args: expected a list or a mapping of flags, got int",
    ),
    (
        "args",
        job('args: "--lr \'0.1"'),
        f"{F}:3:5: jobs.a.args: cannot split args: No closing quotation",
    ),
    (
        "args",
        job("args: {lr: {x: 1}}"),
        f"{F}:3:12: jobs.a.args.lr: expected a string or number, got dict",
    ),
    (
        "script",
        job("script: ''"),
        f"{F}:3:5: jobs.a.script: expected a non-empty string, got str ''",
    ),
    ("script", job("script: nope.py"), f"{F}:3:5: jobs.a.script: script not found: nope.py"),
    ("command", job("command: ''"), f"{F}:3:5: jobs.a.command: command is empty"),
    (
        "command",
        job('command: "python \'x"'),
        f"{F}:3:5: jobs.a.command: cannot split command: No closing quotation",
    ),
    (
        "command",
        job("command: ['', x]"),
        f"{F}:3:15: jobs.a.command.0: the program name is empty, got ''",
    ),
    (
        "flag_names",
        job("flag_names: [x]"),
        f"{F}:3:5: jobs.a.flag_names: expected a mapping like {{epochs: --num_train_epochs}}, "
        "got list",
    ),
    (
        "flag_names",
        job("flag_names: {epoch: --e}"),
        f"{F}:3:18: jobs.a.flag_names.epoch: not a standard flag; did you mean 'epochs'?",
    ),
    (
        "flag_names",
        job("flag_names: {epochs: e}"),
        f"{F}:3:18: jobs.a.flag_names.epochs: expected a flag such as '--epochs', got 'e'",
    ),
    # text
    (
        "description",
        job("description: 3"),
        f"{F}:3:5: jobs.a.description: expected a non-empty string, got int 3",
    ),
    (
        "headline",
        job("headline: ''"),
        f"{F}:3:5: jobs.a.headline: expected a non-empty string, got str ''",
    ),
    # metrics
    (
        "gates",
        job("gates: [x]"),
        f"{F}:3:5: jobs.a.gates: expected a mapping like {{accuracy: '>= 0.9'}}, got list",
    ),
    (
        "gates",
        job("gates: {accuracy: 'about 0.9'}"),
        f"{F}:3:13: jobs.a.gates.accuracy: expected a rule like '>= 0.9' "
        "(one of >= <= > < ==), got 'about 0.9'",
    ),
    (
        "gates",
        job("gates: {loss: '<= 1e999'}"),
        f"{F}:3:13: jobs.a.gates.loss: the threshold of '<= 1e999' is not finite",
    ),
    (
        "metric_directions",
        job("metric_directions: {rmse: down}"),
        f"{F}:3:25: jobs.a.metric_directions.rmse: unknown value 'down'; one of higher, lower",
    ),
    (
        "regress_tolerance",
        job("regress_tolerance: 0.1"),
        f"{F}:3:5: jobs.a.regress_tolerance: expected a mapping like {{rmse: 0.05}}, got float",
    ),
    (
        "regress_tolerance",
        job("regress_tolerance: {rmse: -0.1}"),
        f"{F}:3:25: jobs.a.regress_tolerance.rmse: must not be negative, got -0.1",
    ),
    (
        "resource_tolerance",
        job("resource_tolerance: 0.3"),
        f"{F}:3:5: jobs.a.resource_tolerance: expected a mapping like {{peak_memory: 0.5}}, "
        "got float",
    ),
    (
        "resource_tolerance",
        job("resource_tolerance: {peak_mem: 1}"),
        f"{F}:3:26: jobs.a.resource_tolerance.peak_mem: unknown resource 'peak_mem'; "
        "did you mean 'peak_memory'? (one of peak_memory, cpu_time)",
    ),
    (
        "resource_tolerance",
        job("resource_tolerance: {cpu_time: -0.5}"),
        f"{F}:3:26: jobs.a.resource_tolerance.cpu_time: must not be negative, got -0.5",
    ),
    # sweeps
    (
        "sweep",
        job("sweep: 3"),
        f"{F}:3:5: jobs.a.sweep: expected a mapping with metric and params, got int",
    ),
    ("sweep", job("sweep: {metric: m}"), f"{F}:3:5: jobs.a.sweep: 'params' is required"),
    (
        "sweep",
        job("sweep: {metric: m, param: {}}"),
        f"{F}:3:24: jobs.a.sweep.param: unknown key; did you mean 'params' or 'parallel'?",
    ),
    (
        "sweep",
        job("sweep: {metric: m, params: {lr: {float: [0.1, 0.01]}}}"),
        f"{F}:3:38: jobs.a.sweep.params.lr.float: low must be below high, got [0.1, 0.01]",
    ),
    (
        "sweep",
        job("sweep: {metric: m, params: {lr: {float: [0, 1], log: true}}}"),
        f"{F}:3:38: jobs.a.sweep.params.lr.float: a log range needs low > 0, got 0",
    ),
    (
        "sweep",
        job("sweep: {metric: m, params: {lr: {choices: []}}}"),
        f"{F}:3:38: jobs.a.sweep.params.lr.choices: expected a non-empty list",
    ),
    (
        "sweep",
        job("sweep: {metric: m, params: {n: {int: [0, 1.5]}}}"),
        f"{F}:3:37: jobs.a.sweep.params.n.int: expected [low, high] as ints, got [0, 1.5]",
    ),
    (
        "sweep",
        job("sweep: {metric: m, params: {n: {int: [0, 1], step: 2}}}"),
        f"{F}:3:50: jobs.a.sweep.params.n.step: unknown key; did you mean 'log'?",
    ),
    (
        "sweep",
        job("sweep: {metric: m, params: {lr: {float: [0, 1]}}, sampler: grid}"),
        f"{F}:3:55: jobs.a.sweep.sampler: grid needs int or choices params, not float ranges",
    ),
    (
        "sweep",
        job(SWEEP + ", n_trials: 0}"),
        f"{F}:3:52: jobs.a.sweep.n_trials: must be at least 1, got 0",
    ),
    (
        "sweep",
        job(SWEEP + ", direction: up}"),
        f"{F}:3:52: jobs.a.sweep.direction: unknown value 'up'; one of maximize, minimize",
    ),
    (
        "sweep",
        job(SWEEP + ", pruner: never}"),
        f"{F}:3:52: jobs.a.sweep.pruner: unknown value 'never'; one of median, hyperband, none",
    ),
    (
        "sweep",
        job(SWEEP + ", parallel: 0}"),
        f"{F}:3:52: jobs.a.sweep.parallel: must be at least 1, got 0",
    ),
    (
        "sweep",
        job(SWEEP + ", timeout: 0}"),
        f"{F}:3:52: jobs.a.sweep.timeout: must be more than 0 seconds",
    ),
    (
        "sweep",
        job(
            "sweep: {metric: m, params: {n: {int: [0, 1000]}, k: {int: [0, 1000]}}, sampler: grid}"
        ),
        f"{F}:3:24: jobs.a.sweep.params: a grid of 1,002,001 points (1001 x 1001) is more than "
        "100,000; narrow the ranges, or use the tpe or random sampler",
    ),
    # matrices
    (
        "matrix",
        job("matrix: []"),
        f"{F}:3:5: jobs.a.matrix: expected a mapping of name: [values], got list",
    ),
    (
        "matrix",
        job("matrix: {lr: []}"),
        f"{F}:3:14: jobs.a.matrix.lr: expected a non-empty list of values",
    ),
    (
        "matrix",
        job("matrix: {lr: [1, 1]}"),
        f"{F}:3:22: jobs.a.matrix.lr.1: '1' is already listed (item 0); drop one",
    ),
    (
        "matrix",
        job("matrix: {seed: [1, -1]}"),
        f"{F}:3:24: jobs.a.matrix.seed.1: must be at least 0, got -1",
    ),
    (
        "matrix",
        job("matrix: {lr: [1], exclude: [{lr: 1}]}"),
        f"{F}:3:5: jobs.a.matrix: every combination is excluded",
    ),
    (
        "matrix",
        job("matrix: {lr: [1], exclude: [{lt: 1}]}"),
        f"{F}:3:33: jobs.a.matrix.exclude.0: 'lt' is not a matrix axis",
    ),
    (
        "matrix",
        job("matrix: {lr: [1], include: [{lr: 2}, {lr: 2}]}"),
        f"{F}:3:42: jobs.a.matrix.include.1: the combination [lr=2] is listed twice; drop one",
    ),
    (
        "matrix",
        job("matrix: {lr: [1], include: [3]}"),
        f"{F}:3:23: jobs.a.matrix.include: expected a list of {{name: value}} mappings",
    ),
    (
        "matrix",
        job("matrix: {lr: [1], include: [{epochs: 0}]}"),
        f"{F}:3:34: jobs.a.matrix.include.0.epochs: must be at least 1, got 0",
    ),
    # the file's outline
    (
        "jobs",
        job("retires: 2"),
        f"{F}:3:5: jobs.a.retires: unknown key; did you mean 'retries'?",
    ),
    ("defaults", "defaults:\n  script: x.py\n", f"{F}:2:3: defaults.script: unknown key"),
    (
        "jobs",
        "jobs: [a]\n",
        f"{F}:1:1: jobs: expected a mapping of job id → definition, got list",
    ),
    ("jobs", "jobs:\n  a: [x]\n", f"{F}:2:3: jobs.a: expected a mapping, got list"),
    (
        "jobs",
        job("script: x.py\n    command: y"),
        f"{F}:2:3: jobs.a: set either 'script' or 'command', not both",
    ),
    (
        "register",
        job("register: {alias: champion}"),
        f"{F}:3:5: jobs.a.register: missing 'name': the registered model's name",
    ),
    (
        "tracking",
        "tracking: {mlflow: {experiment: ''}}\n",
        f"{F}:1:21: tracking.mlflow.experiment: expected a non-empty string, got str ''",
    ),
    (
        "profile",
        "profile: ''\n",
        f"{F}:1:1: profile: expected a non-empty string, got str ''",
    ),
    ("", "- a\n", f"{F}:1:1: expected a mapping with 'defaults:' and 'jobs:', got list"),
    ("", "job:\n  a: {}\n", f"{F}:1:1: job: unknown top-level key; did you mean 'jobs'?"),
    # job ids, and what YAML itself can do
    (
        "jobs",
        "jobs:\n  yes: {}\n",
        f'{F}:2:3: jobs.yes: YAML reads this job id as bool, not text; quote it: "yes"',
    ),
    (
        "jobs",
        "jobs:\n  1e3: {}\n",
        f"{F}:2:3: jobs.1e3: YAML reads this job id as a number (YAML 1.2), not text; "
        'quote it: "1e3"',
    ),
    (
        "jobs",
        "jobs:\n  ' ': {}\n",
        f"{F}:2:3: jobs. : a job id must be printable text (no NUL or control chars)",
    ),
    (
        "jobs",
        "jobs:\n  ' spaced ': {}\n",
        f"{F}:2:3: jobs. spaced : a job id must not start or end with spaces: ' spaced '",
    ),
    (
        "jobs",
        "jobs:\n  ? [a]\n  : {}\n",
        f"{F}:2:5: jobs: a key must be a plain value, not a list or mapping",
    ),
    (
        "jobs",
        job("epochs: 1\n    epochs: 2"),
        f"{F}:4:5: jobs.a.epochs: duplicate key (first defined on line 3)",
    ),
    (
        "jobs",
        "jobs:\n  a: {<<: 3}\n",
        f"{F}:2:7: jobs.a.<<: '<<' merges a mapping or a list of mappings (*anchors)",
    ),
    (
        "jobs",
        "jobs:\n  a: &a\n    epochs: 1\n  b:\n    <<: *a\n    epochs: 0\n",
        f"{F}:6:5: jobs.b.epochs: must be at least 1, got 0",
    ),
    (
        "promote",
        job("promote: model"),
        f"{F}:3:5: jobs.a.promote: expected a mapping like "
        "{name: churn, artifact: model.joblib}, got str",
    ),
    (
        "promote",
        job("promote: {artifact: m.joblib}"),
        f"{F}:3:5: jobs.a.promote: missing 'name': the model's directory under models/",
    ),
    (
        "promote",
        job("promote: {name: ../up}"),
        f"{F}:3:15: jobs.a.promote.name: '../up' is not a model name: letters, digits, "
        "'.', '_', '-', starting with a letter or digit",
    ),
    (
        "promote",
        job("promote: {name: m, artifact: ../../etc/passwd}"),
        f"{F}:3:24: jobs.a.promote.artifact: '../../etc/passwd' must stay inside the "
        "job's output dir (no '..')",
    ),
    (
        "promote",
        job("promote: {name: m, artifact: /etc/passwd}"),
        f"{F}:3:24: jobs.a.promote.artifact: '/etc/passwd' must be relative to the job's "
        "output dir",
    ),
    (
        "promote",
        job("promote: {name: m, artifcat: x}"),
        f"{F}:3:24: jobs.a.promote.artifcat: unknown key; did you mean 'artifact'?",
    ),
    (
        "notify",
        "notify:\n  - kind: slack\n    url: https://hooks.slack.com/services/T/B/X\n",
        f"{F}:3:5: notify.0.url: a webhook URL in a config file ends up in git; put it in an "
        "environment variable (a CI secret) and name that variable with url_env:",
    ),
    (
        "notify",
        'notify:\n  - {kind: slack, url_env: "https://hooks.slack.com/x"}\n',
        f"{F}:2:19: notify.0.url_env: expected the name of an environment variable "
        "(like SLACK_WEBHOOK_URL), got a URL",
    ),
    (
        "notify",
        "notify:\n  - {kind: email, host: h, from: a@b.c, to: x, username: u, password: pw}\n",
        f"{F}:2:61: notify.0.password: a password in a config file ends up in git; put it in "
        "an environment variable (a CI secret) and name that variable with password_env:",
    ),
    (
        "notify",
        "notify:\n  - {kind: email, host: h, from: a@b.c, to: [nobody]}\n",
        f"{F}:2:41: notify.0.to: expected an e-mail address like ml-team@example.com, got 'nobody'",
    ),
    (
        "notify",
        "notify:\n  - {kind: teams, url_env: T}\n",
        f"{F}:2:6: notify.0.kind: expected one of slack, webhook, email, got 'teams'",
    ),
    (
        "notify",
        "notify:\n  - {kind: slack, url_env: A, when: failures}\n",
        f"{F}:2:31: notify.0.when.0: unknown value 'failures'; did you mean 'failure'? "
        "(one of always, failure, regression, change)",
    ),
    (
        "notify",
        "notify:\n  - {kind: slack, url_env: A}\n  - {kind: slack, url_env: B}\n",
        f"{F}:3:5: notify.1: a second target named 'slack'; add name:",
    ),
    (
        "",
        "x-a: &a [*a]\n",
        f"{F}:1:1: x-a: a recursive alias (an anchor used inside itself)",
    ),
    (
        "",
        "x-deep: " + "[" * 40 + "]" * 40 + "\n",
        f"{F}:1:1: x-deep: nested more than 32 levels deep",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(text, message, id=f"{key}: {message.split(': ', 2)[-1]}")
        for key, text, message in REFUSED
    ],
)
def test_a_refused_value_is_named_by_file_line_column_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "x.py").write_text("")
    assert refusal(tmp_path, text) == message


# (YAML text of job `a`'s fields, the fields as loaded)
ACCEPTED: list[tuple[str, dict[str, object]]] = [
    ("tags: 'gpu, slow gpu'", {"tags": ("gpu", "slow")}),
    ("needs: [b, b]", {"needs": ("b",)}),
    ("retry_on: failed", {"retry_on": ("failed",)}),
    ("timeout: 2", {"timeout": 2.0}),
    ("memory: 700M", {"memory": 700 << 20}),
    ("memory: auto", {"memory": "auto"}),
    ("cpus: auto", {"cpus": "auto"}),
    ("memory_limit: 2G", {"memory_limit": 2 << 30}),
    ("memory_limit: 1.5GiB", {"memory_limit": 3 << 29}),
    ("memory_limit: 512 MB", {"memory_limit": 512 << 20}),
    ("memory_limit: 2000000", {"memory_limit": 2_000_000}),
    ("retry_on: [out_of_memory]", {"retry_on": ("out_of_memory",)}),
    ("env: {A: true, B: 1}", {"env": {"A": "true", "B": "1"}}),
    ("args: '--lr 0.1'", {"args": ("--lr", "0.1")}),
    (
        "args: {lr: 0.1, verbose: true, layers: [1, 2]}",
        {"args": {"lr": "0.1", "verbose": True, "layers": ("1", "2")}},
    ),
    ("command: \"python -c 'print(1)'\"", {"command": ("python", "-c", "print(1)")}),
    ("gates: {accuracy: '>= 0.9'}", {"gates": (parse_gate("accuracy", ">= 0.9"),)}),
    ("promote: {name: churn}", {"promote": Promote("churn", "model.joblib")}),
    ("promote: {name: m.v2, artifact: ./out/model}", {"promote": Promote("m.v2", "out/model")}),
    (
        "matrix: {seed: [0, 1], include: [{seed: 1, lr: 0.1}, {seed: 2}]}",
        {"matrix": ((("seed", "0"),), (("seed", "1"), ("lr", "0.1")), (("seed", "2"),))},
    ),
]


@pytest.mark.parametrize(("field", "fields"), ACCEPTED, ids=[field for field, _ in ACCEPTED])
def test_an_accepted_value_is_normalised(
    tmp_path: Path, field: str, fields: dict[str, object]
) -> None:
    assert dict(load(tmp_path, job(field)).jobs["a"].fields) == fields


def test_a_later_file_overrides_an_earlier_one_field_by_field(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "defaults:\n  retries: 1\njobs:\n  a:\n    epochs: 1\n    seed: 7\n",
        "defaults:\n  retries: 2\njobs:\n  a:\n    epochs: 3\n",
    )
    assert dict(config.defaults) == {"retries": 2}
    assert dict(config.jobs["a"].fields) == {"epochs": 3, "seed": 7}
    assert dict(config.jobs["a"].where) == {
        "epochs": ("configs/2.yaml", 5),
        "seed": ("configs/1.yaml", 6),
    }
    assert config.jobs["a"].origin == "configs/2.yaml:4"
    assert config.files == ("configs/1.yaml", "configs/2.yaml")


def test_every_key_has_a_refused_value_in_the_table() -> None:
    covered = {key for key, _, _ in REFUSED}
    assert set(JOB_FIELDS) | set(TOP_LEVEL) <= covered
