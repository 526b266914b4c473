"""The local GitHub Actions runner, proven semantic by semantic on tiny synthetic workflows.

Each expected value comes from GitHub's documentation or the source of the runner and of the
actions it emulates; a comment names the rule when the value would surprise a reader."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import alive
from gha_runner import (
    SUMMARY_LIMIT,
    Cancel,
    ExpressionError,
    JobInfo,
    LocalRunner,
    MockedAction,
    PullRequest,
    RunResult,
    Scope,
    Timing,
    WorkflowError,
    cache_version,
    evaluate,
    evaluate_if,
    expand_matrix,
    leg_name,
    load_yaml,
    render,
)

#: GitHub's clock shrunk so a test waits about a second: the ladder's 7.5 s and 2.5 s become
#: 0.6 s each, and `timeout-minutes: 1` lasts one second.
FAST = Timing(sigint_grace=0.6, sigterm_grace=0.6, output_grace=0.5, minute=1.0)


def make_runner(
    tmp_path: Path,
    workflows: Mapping[str, str],
    files: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> LocalRunner:
    """A repository in tmp_path holding these workflows (name -> YAML) and files."""
    repo = tmp_path / "repo"
    for name, text in workflows.items():
        path = repo / ".github" / "workflows" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for name, text in (files or {}).items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(textwrap.dedent(text))
    kwargs.setdefault("timing", FAST)
    return LocalRunner(repo, workdir=tmp_path / "gha", **kwargs)


def run_one(tmp_path: Path, text: str, **kwargs: Any) -> RunResult:
    files = kwargs.pop("files", None)
    runner = make_runner(tmp_path, {"w.yml": text}, files)
    return runner.run(".github/workflows/w.yml", **kwargs)


# ---------------------------------------------------------------------------------------------
# Expressions


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0xff", 255),
        ("-2.99e-2", -0.0299),
        ("'It''s open source!'", "It's open source!"),
        ("null", None),
        # Loose equality: different types are coerced to numbers, strings compare ignoring case.
        ("1 == '1'", True),
        ("'abc' == 'ABC'", True),
        ("null == 0", True),
        ("true == 1", True),
        ("'' == 0", True),
        ("' 0xff ' == 255", True),
        ("'' == null", True),
        ("'a' == 1", False),
        ("NaN == NaN", False),
        ("fromJSON('[1]') == fromJSON('[1]')", False),  # objects compare by reference
        ("'b' > 'A'", True),
        ("false < true", True),
        ("'2' >= 2", True),
        ("!''", True),
        ("!fromJSON('[]')", False),  # an empty array is truthy
        ("contains(fromJSON('[\"a\",\"B\"]'), 'b')", True),
        ("contains('Hello', 'ELL')", True),
        ("startsWith('Hello', 'he')", True),
        ("endsWith('Hello', 'LO')", True),
        ("join(fromJSON('[1,true,null]'), '-')", "1-true-"),
        ("join('abc')", "abc"),
        ("format('{0} {{x}}', 1)", "1 {x}"),
        ("format('{{{0}}}', 'a')", "{a}"),
        ("format('{1}{0}', 'a', 'b')", "ba"),
        ("toJSON(fromJSON('{\"a\":[1,2.5]}'))", '{\n  "a": [\n    1,\n    2.5\n  ]\n}'),
        ("fromJSON('{\"include\":[]}').include[0]", None),
    ],
)
def test_expression_values_follow_githubs_rules(expression: str, expected: object) -> None:
    assert evaluate(expression) == expected


def test_and_or_return_an_operand_not_a_boolean() -> None:
    nightly = "github.event_name == 'schedule' && 'tag:smoke' || inputs.only"
    schedule = {"github": {"event_name": "schedule"}, "inputs": {}}
    dispatch = {"github": {"event_name": "workflow_dispatch"}, "inputs": {"only": "xgb*"}}
    assert evaluate(nightly, schedule) == "tag:smoke"
    assert evaluate(nightly, dispatch) == "xgb*"
    assert evaluate("inputs.shards || 1", {"inputs": {"shards": 0}}) == 1
    assert evaluate("'' || 0 || null") is None  # no operand is truthy: the last one
    assert evaluate("'a' && 0 && 'b'") == 0  # the first falsy operand


def test_object_filters_and_property_access() -> None:
    contexts = {"needs": {"a": {"result": "success"}, "B": {"result": "failure"}}}
    assert evaluate("needs.*.result", contexts) == ["success", "failure"]
    assert evaluate("contains(needs.*.result, 'FAILURE')", contexts) is True
    assert evaluate("needs.b.result", contexts) == "failure"  # keys ignore case
    assert evaluate("needs['a'].result", contexts) == "success"
    assert evaluate('fromJSON(\'[{"x":1},{"y":2},{"x":3}]\').*.x') == [1, 3]
    assert evaluate("needs.missing.result", contexts) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("a == ", "Unrecognized named-value: 'a'"),
        ("1 ==", "Unexpected end of expression"),
        ('"double"', "Unexpected symbol"),
        ("1 = 1", "Unexpected symbol"),
        ("secret.x", "Unrecognized named-value: 'secret'"),
        ("nope(1)", "Unrecognized function: 'nope'"),
        ("contains('a')", "Wrong number of arguments to 'contains'"),
        ("format('{0}')", "references more arguments than were supplied"),
        ("format('{x}', 1)", "format string is invalid"),
        ("success()", "not available here"),
    ],
)
def test_invalid_expressions_raise(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        evaluate(expression, {})


def test_templates_keep_the_type_of_a_lone_expression() -> None:
    assert render("${{ fromJSON('[1,2]') }}") == [1, 2]
    assert render("${{ true }}") is True
    assert render(" x ${{ 1 }}") == " x 1"
    assert render("a-${{ null }}-b") == "a--b"
    assert render("${{ '}}' }}") == "}}"
    assert render({"k": ["${{ 1 == 1 }}"]}) == {"k": [True]}


def test_if_gets_success_unless_it_calls_a_status_function() -> None:
    failed = Scope(
        {"steps": {"boom": {"outcome": "failure"}}},
        {"success": lambda: False, "failure": lambda: True},
    )
    assert evaluate_if("steps.boom.outcome == 'failure'", failed) is False
    assert evaluate_if("${{ failure() && steps.boom.outcome == 'failure' }}", failed) is True
    assert evaluate_if(None, failed) is False
    # Text around `${{ }}` makes a non-empty string: always true, a classic trap.
    assert (
        evaluate_if(
            "${{ steps.boom.outcome }} == 'success'",
            Scope(
                {"steps": {"boom": {"outcome": "failure"}}},
                {"success": lambda: True},
            ),
        )
        is True
    )


def test_yaml_is_read_as_yaml_1_2_like_github(tmp_path: Path) -> None:
    path = tmp_path / "w.yml"
    path.write_text("on: push\nx: yes\ny: 010\nz: 1:30\nd: 2024-01-01\nf: 3.10\nb: true\n")
    assert load_yaml(path) == {
        "on": "push",
        "x": "yes",
        "y": 10,
        "z": "1:30",
        "d": "2024-01-01",
        "f": 3.1,
        "b": True,
    }


# ---------------------------------------------------------------------------------------------
# Shells, status functions, environment files


def test_default_shell_has_no_pipefail_but_shell_bash_does(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - name: default
                run: false | tee out.txt
              - name: bash
                shell: bash
                continue-on-error: true
                run: false | tee out.txt
              - name: python
                shell: python
                run: import sys; print("py", sys.version_info[0])
              - name: custom
                shell: bash --noprofile --norc {0}
                run: false; echo survived
              - name: sh
                shell: sh
                run: echo "sh ok"
    """,
    )
    job = result.jobs["j"]
    assert [(s.name, s.outcome, s.conclusion) for s in job.steps] == [
        ("default", "success", "success"),
        ("bash", "failure", "success"),
        ("python", "success", "success"),
        ("custom", "success", "success"),
        ("sh", "success", "success"),
    ]
    assert job.step("default").log.splitlines()[0].endswith("bash -e {0}")
    assert (
        job.step("bash").log.splitlines()[0].endswith("bash --noprofile --norc -e -o pipefail {0}")
    )
    assert job.step("sh").log.splitlines()[0].endswith("sh -e {0}")
    assert "py 3" in job.step("python").log
    assert "survived" in job.step("custom").log
    assert result.conclusion == "success"


def test_run_defaults_and_working_directories(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        defaults:
          run:
            shell: bash
        jobs:
          j:
            runs-on: ubuntu-latest
            defaults:
              run:
                working-directory: sub
            steps:
              - uses: actions/checkout@v5
              - name: job default
                run: basename "$PWD"
              - name: pipefail
                continue-on-error: true
                run: false | true
              - name: own directory
                working-directory: sub/deeper
                run: basename "$PWD"
              - name: missing directory
                continue-on-error: true
                working-directory: nowhere
                run: echo never
        """,
        files={"sub/deeper/.keep": ""},
    )
    job = result.jobs["j"]
    assert job.step("job default").log.splitlines() == [
        f"shell: {shutil.which('bash')} --noprofile --norc -e -o pipefail {{0}}",
        "sub",
    ]
    assert job.step("pipefail").outcome == "failure"  # the default `shell: bash` brings it
    assert job.step("own directory").log.splitlines()[-1] == "deeper"
    assert job.step("missing directory").outcome == "failure"


STATUS_WORKFLOW = """
    on: workflow_dispatch
    jobs:
      j:
        runs-on: ubuntu-latest
        steps:
          - id: boom
            run: exit 3
          - name: default
            run: echo never
          - name: on failure
            if: failure()
            run: echo failure ran
          - name: bare condition
            if: steps.boom.outcome == 'failure'
            run: echo never
          - name: explicit
            if: ${{ failure() && steps.boom.outcome == 'failure' }}
            run: echo explicit ran
          - name: always
            if: always()
            run: echo always ran
          - name: success only
            if: success()
            run: echo never
          - name: not cancelled
            if: ${{ !cancelled() }}
            run: echo not cancelled ran
"""


def test_status_functions_across_a_failing_step(tmp_path: Path) -> None:
    result = run_one(tmp_path, STATUS_WORKFLOW)
    job = result.jobs["j"]
    assert [(s.name, s.conclusion) for s in job.steps] == [
        ("Run exit 3", "failure"),
        ("default", "skipped"),
        ("on failure", "success"),
        ("bare condition", "skipped"),  # means success() && (...)
        ("explicit", "success"),
        ("always", "success"),
        ("success only", "skipped"),
        ("not cancelled", "success"),
    ]
    assert job.conclusion == "failure"
    assert result.conclusion == "failure"
    assert result.errors() == ["Process completed with exit code 3."]


def test_continue_on_error_for_steps_and_jobs(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          flaky:
            runs-on: ubuntu-latest
            continue-on-error: true
            steps:
              - run: exit 1
          tolerant:
            runs-on: ubuntu-latest
            steps:
              - id: soft
                continue-on-error: ${{ 1 == 1 }}
                run: exit 1
              - name: next
                run: echo "${{ steps.soft.outcome }}/${{ steps.soft.conclusion }}"
          after:
            needs: [flaky, tolerant]
            runs-on: ubuntu-latest
            steps:
              - run: echo "flaky=${{ needs.flaky.result }}"
    """,
    )
    # A failed job with continue-on-error shows as failed, yet `needs` sees success.
    assert result.jobs["flaky"].conclusion == "failure"
    assert result.needs("flaky").result == "success"
    assert "failure/success" in result.jobs["tolerant"].step("next").log
    assert result.jobs["tolerant"].conclusion == "success"
    assert "flaky=success" in result.jobs["after"].steps[0].log
    assert result.conclusion == "success"


def test_environment_files_outputs_env_and_path(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            outputs:
              notes: ${{ steps.write.outputs.notes }}
            steps:
              - id: write
                run: |
                  echo "plain=a=b" >> "$GITHUB_OUTPUT"
                  printf 'notes<<EOF\\nline 1\\nline 2\\nEOF\\n' >> "$GITHUB_OUTPUT"
                  { echo "MULTI<<END"; echo "x"; echo "y"; echo "END"; } >> "$GITHUB_ENV"
                  echo "SIMPLE=from-env-file" >> "$GITHUB_ENV"
                  mkdir -p tools && printf '#!/bin/sh\\necho tool ran\\n' > tools/mytool
                  chmod +x tools/mytool && echo "$PWD/tools" >> "$GITHUB_PATH"
                  echo "same step: ${SIMPLE:-unset}"
              - name: read
                env:
                  FROM_CONTEXT: ${{ env.SIMPLE }}-${{ steps.write.outputs.plain }}
                run: |
                  mytool
                  echo "$SIMPLE $FROM_CONTEXT"
                  printf '%s|' "$MULTI"
              - name: broken
                continue-on-error: true
                run: echo "k<<EOF" >> "$GITHUB_OUTPUT"
    """,
    )
    job = result.jobs["j"]
    assert dict(job.step("write").outputs) == {"plain": "a=b", "notes": "line 1\nline 2"}
    assert "same step: unset" in job.step("write").log  # GITHUB_ENV applies to later steps
    read = job.step("read").log.splitlines()
    assert read[1:] == ["tool ran", "from-env-file from-env-file-a=b", "x", "y|"]
    assert job.outputs == {"notes": "line 1\nline 2"}
    assert job.step("broken").outcome == "failure"
    assert "Invalid value. Matching delimiter not found 'EOF'" in result.errors()


def test_base_environment_and_github_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "TRAIN_ORCH_ONLY": "leak",
        "MLFLOW_TRACKING_URI": "leak",
        "GITHUB_SHA": "leak",
        "RUNNER_TEMP": "leak",
        "KEEP_ME": "kept",
    }.items():
        monkeypatch.setenv(name, value)
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        env:
          A: wf
          B: wf
          GITHUB_SHA: overridden
        jobs:
          j:
            runs-on: ubuntu-latest
            env:
              B: job
              C: job
            steps:
              - env:
                  C: step
                run: |
                  echo "A=$A B=$B C=$C KEEP=$KEEP_ME CI=$CI ACTIONS=$GITHUB_ACTIONS"
                  echo "leaks=${TRAIN_ORCH_ONLY:-}${MLFLOW_TRACKING_URI:-}"
                  echo "HOME=$HOME"
                  echo "REF=$GITHUB_REF NAME=$GITHUB_REF_NAME" \
                    "EVENT=$GITHUB_EVENT_NAME OS=$RUNNER_OS"
                  echo "RUN=$GITHUB_RUN_ID/$GITHUB_RUN_ATTEMPT JOB=$GITHUB_JOB"
                  echo "SHA=$GITHUB_SHA"
                  echo "WS=$GITHUB_WORKSPACE PWD=$PWD"
                  echo "BRANCH=$(jq -r .repository.default_branch "$GITHUB_EVENT_PATH")"
    """,
        run_id=4242,
    )
    job = result.jobs["j"]
    lines = job.steps[0].log.splitlines()[1:]
    assert lines[0] == "A=wf B=job C=step KEEP=kept CI=true ACTIONS=true"
    assert lines[1] == "leaks="
    assert lines[2] == f"HOME={tmp_path / 'gha' / 'runs' / '4242-1' / '01-j' / 'home'}"
    assert lines[3] == "REF=refs/heads/main NAME=main EVENT=workflow_dispatch OS=Linux"
    assert lines[4] == "RUN=4242/1 JOB=j"
    assert lines[5] != "SHA=overridden" and lines[5] != "SHA=leak"
    assert lines[6] == f"WS={job.workspace} PWD={job.workspace}"
    assert lines[7] == "BRANCH=main"


def test_dispatch_inputs_are_typed_and_checked(tmp_path: Path) -> None:
    runner = make_runner(
        tmp_path,
        {
            "w.yml": """
        on:
          workflow_dispatch:
            inputs:
              flag: {type: boolean, default: false}
              count: {type: number, default: 4}
              profile: {type: choice, options: [full, smoke], default: full}
              name: {type: string, required: true}
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - env:
                  INPUTS: ${{ toJSON(inputs) }}
                  FORM: ${{ toJSON(github.event.inputs) }}
                run: |
                  echo "${{ inputs.flag && 'on' || 'off' }} ${{ inputs.count == 7 }}" \
                    "${{ inputs.profile }}"
                  echo "$INPUTS" | jq -c .
                  echo "$FORM" | jq -c .
    """
        },
    )
    result = runner.run(
        ".github/workflows/w.yml", inputs={"name": "x", "flag": "true", "count": "7"}
    )
    lines = result.jobs["j"].steps[0].log.splitlines()[1:]
    assert lines[0] == "on true full"
    assert json.loads(lines[1]) == {"flag": True, "count": 7, "profile": "full", "name": "x"}
    # The event payload carries the form as strings.
    assert json.loads(lines[2]) == {"flag": "true", "count": "7", "profile": "full", "name": "x"}
    with pytest.raises(WorkflowError, match="required input 'name' not provided"):
        runner.run(".github/workflows/w.yml")
    with pytest.raises(WorkflowError, match="unexpected inputs \\['typo'\\]"):
        runner.run(".github/workflows/w.yml", inputs={"name": "x", "typo": 1})
    with pytest.raises(WorkflowError, match="is not one of \\['full', 'smoke'\\]"):
        runner.run(".github/workflows/w.yml", inputs={"name": "x", "profile": "tiny"})
    with pytest.raises(WorkflowError, match="is of type boolean"):
        runner.run(".github/workflows/w.yml", inputs={"name": "x", "flag": "yes"})
    with pytest.raises(WorkflowError, match="does not run on 'push'"):
        runner.run(".github/workflows/w.yml", event="push")


def test_event_payloads_for_push_schedule_and_pull_request(tmp_path: Path) -> None:
    runner = make_runner(
        tmp_path,
        {
            "w.yml": """
        on:
          push:
          schedule:
            - cron: "17 2 * * *"
          pull_request:
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - run: |
                  echo "$GITHUB_EVENT_NAME $GITHUB_REF $GITHUB_REF_NAME" \
                    "[$GITHUB_HEAD_REF] [$GITHUB_BASE_REF]"
                  echo "${{ github.event.schedule || github.event.pull_request.number
                            || github.event.ref }}"
    """
        },
    )

    def lines(**kwargs: Any) -> list[str]:
        result = runner.run(".github/workflows/w.yml", **kwargs)
        return result.jobs["j"].steps[0].log.splitlines()[1:]

    assert lines(event="push", ref="dev") == ["push refs/heads/dev dev [] []", "refs/heads/dev"]
    assert lines(event="schedule", ref="dev") == [
        "schedule refs/heads/main main [] []",
        "17 2 * * *",  # schedules run on the default
    ]
    assert lines(event="pull_request", pull_request=PullRequest(7, "feat")) == [
        "pull_request refs/pull/7/merge 7/merge [feat] [main]",
        "7",
    ]


# ---------------------------------------------------------------------------------------------
# Jobs: needs, matrices


def test_matrix_expansion_follows_the_documented_example() -> None:
    legs = expand_matrix(
        {
            "fruit": ["apple", "pear"],
            "animal": ["cat", "dog"],
            "include": [
                {"color": "green"},
                {"color": "pink", "animal": "cat"},
                {"fruit": "apple", "shape": "circle"},
                {"fruit": "banana"},
                {"fruit": "banana", "animal": "cat"},
            ],
        }
    )
    assert [full for _, full in legs] == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]
    # Default names show the leg's own values, not what an include added.
    assert [leg_name("build", naming) for naming, _ in legs][:2] == [
        "build (apple, cat)",
        "build (apple, dog)",
    ]
    excluded = expand_matrix({"os": ["a", "b"], "v": [1, 2], "exclude": [{"os": "b", "v": 2}]})
    assert [full for _, full in excluded] == [
        {"os": "a", "v": 1},
        {"os": "a", "v": 2},
        {"os": "b", "v": 1},
    ]
    with pytest.raises(WorkflowError, match="Matrix must define at least one vector"):
        expand_matrix({"include": []})
    with pytest.raises(WorkflowError, match="Matrix vector 'v' does not contain any values"):
        expand_matrix({"v": []})


def test_matrix_from_json_names_indexes_and_outputs(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          plan:
            runs-on: ubuntu-latest
            outputs:
              matrix: ${{ steps.m.outputs.matrix }}
            steps:
              - id: m
                run: |
                  echo 'matrix={"include":[{"shard":0},{"shard":1},{"shard":2}]}' \
                    >> "$GITHUB_OUTPUT"
          train:
            needs: plan
            strategy:
              fail-fast: false
              matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
            name: train ${{ matrix.shard }}
            runs-on: ubuntu-latest
            outputs:
              last: ${{ steps.s.outputs.value }}
            steps:
              - id: s
                run: |
                  echo "${{ strategy.job-index }}/${{ strategy.job-total }}"
                  if [ "${{ matrix.shard }}" != 2 ]; then
                    echo "value=from-${{ matrix.shard }}" >> "$GITHUB_OUTPUT"
                  fi
          build:
            strategy:
              matrix:
                os: [linux]
                py: [3.11, "3.12"]
            runs-on: ubuntu-latest
            steps:
              - run: echo ${{ matrix.py }}
    """,
    )
    assert [job.name for job in result.legs("train")] == ["train 0", "train 1", "train 2"]
    assert [job.steps[0].log.splitlines()[1] for job in result.legs("train")] == [
        "0/3",
        "1/3",
        "2/3",
    ]
    # Outputs come from the last leg that set them; an empty value sets nothing.
    assert result.needs("train").outputs == {"last": "from-1"}
    assert result.legs("train")[2].outputs == {"last": ""}
    assert [job.name for job in result.legs("build")] == [
        "build (linux, 3.11)",
        "build (linux, 3.12)",
    ]


def test_fail_fast_cancels_the_rest_and_the_aggregate_is_failure(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          fast:
            strategy:
              matrix:
                n: [1, 2, 3]
            runs-on: ubuntu-latest
            steps:
              - run: test ${{ matrix.n }} != 2
          slow:
            strategy:
              fail-fast: false
              matrix:
                n: [1, 2, 3]
            runs-on: ubuntu-latest
            steps:
              - run: test ${{ matrix.n }} != 2
    """,
    )
    assert [j.conclusion for j in result.legs("fast")] == ["success", "failure", "cancelled"]
    assert [j.conclusion for j in result.legs("slow")] == ["success", "failure", "success"]
    assert result.needs("fast").result == "failure"
    assert result.needs("slow").result == "failure"


def test_an_empty_matrix_fails_the_job_and_skips_dependents(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          plan:
            runs-on: ubuntu-latest
            outputs:
              matrix: '{"include":[]}'
            steps:
              - run: echo planned
          train:
            needs: plan
            strategy:
              matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
            runs-on: ubuntu-latest
            steps:
              - run: echo never
          report:
            needs: train
            runs-on: ubuntu-latest
            steps:
              - run: echo never
          merge:
            needs: [plan, train]
            if: always() && needs.plan.result == 'success'
            runs-on: ubuntu-latest
            steps:
              - run: echo "train=${{ needs.train.result }}"
    """,
    )
    assert result.jobs["train"].conclusion == "failure"
    assert result.jobs["train"].steps == ()
    assert "Matrix must define at least one vector" in result.errors()
    assert result.jobs["report"].conclusion == "skipped"
    assert "train=failure" in result.jobs["merge"].steps[0].log
    assert result.conclusion == "failure"


def test_a_failed_need_skips_every_job_downstream_without_a_status_function(
    tmp_path: Path,
) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          a:
            runs-on: ubuntu-latest
            steps:
              - run: exit 1
          b:
            needs: a
            runs-on: ubuntu-latest
            steps:
              - run: echo never
          c:
            needs: a
            if: always()
            runs-on: ubuntu-latest
            steps:
              - run: echo "a=${{ needs.a.result }}"
          d:
            needs: c
            runs-on: ubuntu-latest
            steps:
              - run: echo never
          e:
            needs: c
            if: ${{ !cancelled() }}
            runs-on: ubuntu-latest
            steps:
              - run: echo e ran
          f:
            needs: a
            if: failure()
            runs-on: ubuntu-latest
            steps:
              - run: echo f ran
    """,
    )
    conclusions = {name: job.conclusion for name, job in result.jobs.items()}
    # d needs only c, which succeeded, but success() looks at every ancestor, a included.
    assert conclusions == {
        "a": "failure",
        "b": "skipped",
        "c": "success",
        "d": "skipped",
        "e": "success",
        "f": "success",
    }
    assert "a=failure" in result.jobs["c"].steps[0].log


# ---------------------------------------------------------------------------------------------
# Artifacts


def test_upload_name_clash_fails_without_overwrite(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - run: echo one > r.txt
              - uses: actions/upload-artifact@v4
                with: {name: report, path: r.txt}
              - run: echo two > r.txt
              - id: clash
                continue-on-error: true
                uses: actions/upload-artifact@v4
                with: {name: report, path: r.txt}
              - id: replace
                uses: actions/upload-artifact@v4
                with: {name: report, path: r.txt, overwrite: true}
    """,
    )
    job = result.jobs["j"]
    assert job.step("clash").outcome == "failure"
    assert result.errors() == [
        "Failed to CreateArtifact: Received non-retryable error: Failed request: (409) "
        "Conflict: an artifact with this name already exists on the workflow run"
    ]
    assert job.step("replace").outputs["artifact-id"] == "2"
    assert (result.artifacts["report"] / "r.txt").read_text() == "two\n"


def test_upload_roots_exclusions_and_hidden_files(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - run: |
                  mkdir -p results/deep summaries
                  echo a > results/a.txt; echo t > results/deep/x.tmp; echo s > results/.secret
                  echo j > summaries/latest.json
              - uses: actions/upload-artifact@v4
                with:
                  name: multi
                  path: |
                    results/
                    logs/
                    summaries/
                    !results/**/*.tmp
              - uses: actions/upload-artifact@v4
                with: {name: hidden, path: results/, include-hidden-files: true}
              - uses: actions/upload-artifact@v4
                with: {name: lone, path: summaries/latest.json}
              - uses: actions/upload-artifact@v4
                with: {name: wild, path: "results/**/*.txt"}
              - uses: actions/upload-artifact@v4
                with: {name: none, path: missing/, if-no-files-found: ignore}
              - id: required
                continue-on-error: true
                uses: actions/upload-artifact@v4
                with: {name: none, path: missing/, if-no-files-found: error}
    """,
    )

    def files(name: str) -> list[str]:
        root = result.artifacts[name]
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    # Several paths: the least common ancestor (the workspace) is the root.
    assert files("multi") == ["results/a.txt", "summaries/latest.json"]
    assert files("hidden") == [".secret", "a.txt", "deep/x.tmp"]
    assert files("lone") == ["latest.json"]
    assert files("wild") == ["a.txt"]
    assert "none" not in result.artifacts
    assert result.jobs["j"].step("required").outcome == "failure"
    assert result.errors() == [
        "No files were found with the provided path: missing/. No artifacts will be uploaded."
    ]


def test_download_by_pattern_merge_multiple_and_a_single_match(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          up:
            strategy:
              matrix:
                shard: [0, 1]
            runs-on: ubuntu-latest
            steps:
              - run: |
                  mkdir -p results && echo ${{ matrix.shard }} > results/s${{ matrix.shard }}.txt
                  chmod +x results/*
              - uses: actions/upload-artifact@v4
                with: {name: "shard-${{ strategy.job-index }}", path: results/}
          down:
            needs: up
            runs-on: ubuntu-latest
            steps:
              - uses: actions/download-artifact@v7
                with: {pattern: shard-*, path: split}
              - uses: actions/download-artifact@v7
                with: {pattern: shard-*, path: merged, merge-multiple: true}
              - uses: actions/download-artifact@v7
                with: {pattern: shard-1, path: one}
              - uses: actions/download-artifact@v4
                with: {pattern: shard-1, path: one-v4}
              - uses: actions/download-artifact@v7
                with: {name: shard-0}
              - id: missing
                continue-on-error: true
                uses: actions/download-artifact@v7
                with: {name: shard-9}
              - run: find split merged one one-v4 s0.txt -type f | sort && stat -c %a merged/s0.txt
    """,
    )
    listing = result.jobs["down"].steps[-1].log.splitlines()[1:]
    assert listing == [
        "merged/s0.txt",
        "merged/s1.txt",
        # download-artifact v5+: one matching artifact goes straight into `path`.
        "one-v4/shard-1/s1.txt",
        "one/s1.txt",
        "s0.txt",
        "split/shard-0/s0.txt",
        "split/shard-1/s1.txt",
        "644",  # artifacts are zips: the executable bit is gone
    ]
    assert result.jobs["down"].step("missing").outcome == "failure"
    assert "Unable to download artifact(s): Artifact 'shard-9' not found" in result.errors()


def test_a_rerun_keeps_the_runs_artifacts(tmp_path: Path) -> None:
    runner = make_runner(
        tmp_path,
        {
            "w.yml": """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - id: get
                continue-on-error: true
                uses: actions/download-artifact@v4
                with: {name: built, path: got}
              - run: cat got/b.txt || true; echo "attempt ${{ github.run_attempt }}" > b.txt
              - uses: actions/upload-artifact@v4
                with: {name: built, path: b.txt}
    """
        },
    )
    first = runner.run(".github/workflows/w.yml", run_id=77)
    assert first.jobs["j"].step("get").outcome == "failure"
    # Attempt 2 sees attempt 1's artifact, and may upload the same name again.
    second = runner.run(".github/workflows/w.yml", run_id=77, run_attempt=2)
    assert second.jobs["j"].step("get").outcome == "success"
    assert "attempt 1" in second.jobs["j"].steps[1].log
    assert (second.artifacts["built"] / "b.txt").read_text() == "attempt 2\n"
    assert second.conclusion == "success"
    other = runner.run(".github/workflows/w.yml", run_id=78)
    assert other.jobs["j"].step("get").outcome == "failure"


# ---------------------------------------------------------------------------------------------
# Cache


CACHE_WORKFLOW = """
    on: [workflow_dispatch, push]
    jobs:
      j:
        runs-on: ubuntu-latest
        steps:
          - id: restore
            uses: actions/cache/restore@v5
            with:
              path: previous/
              key: summary-${{ github.ref_name }}-${{ github.run_id }}
              restore-keys: |
                summary-${{ github.ref_name }}-
                summary-main-
          - run: cat previous/latest.json || echo none
          - run: mkdir -p previous && echo "run ${{ github.run_id }}" > previous/latest.json
          - id: save
            uses: actions/cache/save@v5
            with:
              path: previous/
              key: ${{ vars.SAVE_KEY || steps.restore.outputs.cache-primary-key }}
"""


def restored(result: RunResult) -> tuple[str, str, str]:
    job = result.jobs["j"]
    outputs = job.step("restore").outputs
    return (
        outputs.get("cache-hit", "<unset>"),
        outputs.get("cache-matched-key", ""),
        job.steps[1].log.splitlines()[-1],
    )


def test_cache_restore_keys_newest_prefix_and_immutable_keys(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, {"w.yml": CACHE_WORKFLOW})
    cache = runner.cache
    cache.put("summary-main-1", {"previous/latest.json": "old"}, path="previous/")
    cache.put("summary-main-2", {"previous/latest.json": "new"}, path="previous/")
    cache.put("summary-main-3", {"previous/latest.json": "other path"}, path="elsewhere/")
    first = runner.run(".github/workflows/w.yml", run_id=10)
    # No exact hit: the newest entry whose key starts with the first matching restore key;
    # an entry saved with another `path:` is another version and never matches.
    assert restored(first) == ("false", "summary-main-2", "new")
    assert [e.key for e in cache.entries()][-1] == "summary-main-10"
    # Exact key wins over newer prefix matches.
    cache.put("summary-main-11", {"previous/latest.json": "exact"}, path="previous/")
    cache.put("summary-main-110", {"previous/latest.json": "newer"}, path="previous/")
    assert restored(runner.run(".github/workflows/w.yml", run_id=11)) == (
        "true",
        "summary-main-11",
        "exact",
    )
    # Saving an existing key: a warning, the step succeeds, the entry stays as it was.
    again = runner.run(".github/workflows/w.yml", run_id=12, vars={"SAVE_KEY": "summary-main-1"})
    assert again.jobs["j"].step("save").conclusion == "success"
    assert [a.message for a in again.annotations] == ["Cache save failed."]
    entry = next(e for e in cache.entries() if e.key == "summary-main-1")
    assert (entry.path / "previous" / "latest.json").read_text() == "old"
    # A miss leaves cache-hit unset, not "false".
    for entry in cache.entries():
        cache.delete(entry.key)
    assert restored(runner.run(".github/workflows/w.yml", run_id=13)) == ("<unset>", "", "none")


def test_cache_scopes_own_branch_then_default_branch(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, {"w.yml": CACHE_WORKFLOW})
    cache = runner.cache
    cache.put("summary-main-1", {"previous/latest.json": "main"}, path="previous/")
    cache.put("summary-a-1", {"previous/latest.json": "a"}, path="previous/", ref="refs/heads/a")
    cache.put("summary-b-1", {"previous/latest.json": "b"}, path="previous/", ref="refs/heads/b")
    assert restored(runner.run(".github/workflows/w.yml", ref="a", run_id=20))[2] == "a"
    # Another feature branch never sees a sibling's caches, only the default branch's.
    assert restored(runner.run(".github/workflows/w.yml", ref="c", run_id=21))[2] == "main"
    # What a branch saved stays in its scope: main cannot restore it.
    saved = [e for e in cache.entries() if e.key == "summary-c-21"]
    assert [e.scope for e in saved] == ["refs/heads/c"]
    assert restored(runner.run(".github/workflows/w.yml", run_id=22))[1] == "summary-main-1"
    assert cache.entries()[0].version == cache_version("previous/\n")


def test_cache_action_saves_in_a_post_step_only_after_success_and_a_miss(
    tmp_path: Path,
) -> None:
    runner = make_runner(
        tmp_path,
        {
            "w.yml": """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - id: c
                uses: actions/cache@v4
                with: {path: deps, key: "deps-${{ vars.V }}"}
              - run: mkdir -p deps && echo v${{ vars.V }} > deps/f && exit ${{ vars.FAIL || 0 }}
    """
        },
    )
    miss = runner.run(".github/workflows/w.yml", vars={"V": "1"})
    assert [s.name for s in miss.jobs["j"].steps][-1] == "Post Run actions/cache@v4"
    assert [e.key for e in runner.cache.entries()] == ["deps-1"]
    hit = runner.run(".github/workflows/w.yml", vars={"V": "1"})
    assert hit.jobs["j"].step("c").outputs["cache-hit"] == "true"
    assert "not saving cache" in hit.jobs["j"].steps[-1].log
    failed = runner.run(".github/workflows/w.yml", vars={"V": "2", "FAIL": "1"})
    assert failed.jobs["j"].steps[-1].conclusion == "skipped"
    assert [e.key for e in runner.cache.entries()] == ["deps-1"]


def test_before_job_can_save_a_newer_cache_between_jobs(tmp_path: Path) -> None:
    runner = make_runner(
        tmp_path,
        {
            "w.yml": """
        on: workflow_dispatch
        jobs:
          first:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/cache/restore@v5
                with: {path: p, key: k-x, restore-keys: k-}
              - run: cat p/v
          second:
            needs: first
            runs-on: ubuntu-latest
            steps:
              - uses: actions/cache/restore@v5
                with: {path: p, key: k-x, restore-keys: k-}
              - run: cat p/v
    """
        },
    )
    runner.cache.put("k-1", {"p/v": "one"}, path="p")
    seen: list[JobInfo] = []

    def between(info: JobInfo) -> None:
        seen.append(info)
        if info.job_id == "second":
            runner.cache.put("k-2", {"p/v": "two"}, path="p")

    result = runner.run(".github/workflows/w.yml", before_job=between, run_id=5)
    assert [(i.job_id, i.name, i.run_id) for i in seen] == [
        ("first", "first", 5),
        ("second", "second", 5),
    ]
    assert result.jobs["first"].steps[1].log.splitlines()[-1] == "one"
    assert result.jobs["second"].steps[1].log.splitlines()[-1] == "two"


# ---------------------------------------------------------------------------------------------
# Composite actions, reusable workflows, mocked actions


def test_composite_actions_run_for_real(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    (tools / "shout").mkdir(parents=True)
    (tools / "shout" / "action.yml").write_text(
        textwrap.dedent("""
        inputs:
          text: {required: true}
        outputs:
          loud:
            value: ${{ steps.up.outputs.loud }}
        runs:
          using: composite
          steps:
            - id: up
              shell: bash
              run: echo "loud=$(echo '${{ inputs.text }}' | tr a-z A-Z)" >> "$GITHUB_OUTPUT"
    """)
    )
    runner = make_runner(
        tmp_path,
        {
            "w.yml": """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v5
              - id: greet
                uses: ./.github/actions/greet
                env:
                  CALLER: from-caller
                with:
                  who: world
              - run: echo "${{ steps.greet.outputs.greeting }}|${{ steps.greet.outputs.loud }}"
              - id: broken
                continue-on-error: true
                uses: ./.github/actions/broken
    """
        },
        files={
            ".github/actions/greet/action.yml": """
            inputs:
              who: {default: nobody}
              event: {default: "${{ github.event_name }}"}
            outputs:
              greeting:
                value: ${{ steps.say.outputs.text }}
              loud:
                value: ${{ steps.nested.outputs.loud }}
            runs:
              using: composite
              steps:
                - id: say
                  shell: bash
                  env:
                    WHO: ${{ inputs.who }}
                  run: |
                    echo "text=hello $WHO via ${{ inputs.event }}" >> "$GITHUB_OUTPUT"
                    test "${{ github.action_path }}" = "$GITHUB_ACTION_PATH"
                    echo "path=same $CALLER"
                    "$GITHUB_ACTION_PATH/helper.sh"
                - id: nested
                  uses: acme/tools/shout@0123456789abcdef0123456789abcdef01234567
                  with:
                    text: ${{ steps.say.outputs.text }}
        """,
            ".github/actions/greet/helper.sh": "#!/bin/sh\necho helper ran\n",
            ".github/actions/broken/action.yaml": """
            runs:
              using: composite
              steps:
                - run: echo no shell
        """,
        },
        actions={"acme/tools": tools},
    )
    (runner.source / ".github/actions/greet/helper.sh").chmod(0o755)
    result = runner.run(".github/workflows/w.yml")
    job = result.jobs["j"]
    assert dict(job.step("greet").outputs) == {
        "greeting": "hello world via workflow_dispatch",
        "loud": "HELLO WORLD VIA WORKFLOW_DISPATCH",
    }
    assert "path=same from-caller" in job.step("greet").log
    assert "helper ran" in job.step("greet").log
    assert job.steps[2].log.splitlines()[-1] == (
        "hello world via workflow_dispatch|HELLO WORLD VIA WORKFLOW_DISPATCH"
    )
    assert job.step("broken").outcome == "failure"
    assert "Required property is missing: shell" in result.errors()[0]


def test_reusable_workflows_with_inputs_secrets_and_outputs(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / ".github" / "workflows").mkdir(parents=True)
    (shared / ".github" / "workflows" / "lib.yml").write_text(
        textwrap.dedent("""
        on:
          workflow_call:
            secrets:
              key: {required: true}
            outputs:
              said:
                value: ${{ jobs.speak.outputs.said }}
        jobs:
          speak:
            runs-on: ubuntu-latest
            outputs:
              said: ${{ steps.s.outputs.said }}
            steps:
              - id: s
                run: |
                  echo "said=key is ${{ secrets.key }}" >> "$GITHUB_OUTPUT"
                  echo "${{ secrets.key }}"
    """)
    )
    runner = make_runner(
        tmp_path,
        {
            "caller.yml": """
            on: workflow_dispatch
            env:
              CALLER_ENV: not-propagated
            jobs:
              call:
                uses: ./.github/workflows/callee.yml
                with:
                  count: 2
                  flag: ${{ github.event_name == 'workflow_dispatch' }}
                secrets: inherit
              remote:
                uses: acme/shared/.github/workflows/lib.yml@v1
                secrets:
                  key: ${{ secrets.TOKEN }}
              after:
                needs: [call, remote]
                runs-on: ubuntu-latest
                steps:
                  - run: echo "${{ needs.call.result }} ${{ needs.call.outputs.total }}"
        """,
            "callee.yml": """
            on:
              workflow_call:
                inputs:
                  count: {type: number, required: true}
                  flag: {type: boolean, default: false}
                  label: {type: string, default: "${{ github.ref_name }}"}
                outputs:
                  total:
                    value: ${{ jobs.build.outputs.total }}
            jobs:
              build:
                runs-on: ubuntu-latest
                outputs:
                  total: ${{ steps.t.outputs.total }}
                steps:
                  - id: t
                    run: |
                      echo "total=${{ inputs.count }}-${{ inputs.flag }}-${{ inputs.label }}" \
                        >> "$GITHUB_OUTPUT"
                      echo "env=${CALLER_ENV:-unset} token=${{ secrets.TOKEN }}"
        """,
        },
        actions={"acme/shared": shared},
    )
    result = runner.run(".github/workflows/caller.yml", secrets={"TOKEN": "t0p-s3cret"})
    assert list(result.jobs) == ["call / build", "remote / speak", "after"]
    assert result.needs("call").outputs == {"total": "2-true-main"}
    assert result.jobs["call / build"].steps[0].log.splitlines()[-1] == "env=unset token=***"
    assert result.jobs["after"].steps[0].log.splitlines()[-1] == "success 2-true-main"
    # The secret reaches the callee, masked in its log; an output holding it is dropped.
    assert result.jobs["remote / speak"].steps[0].log.splitlines()[-1] == "***"
    assert result.needs("remote").outputs == {}
    assert [job.name for job in result.legs("call")] == ["call / build"]


def test_actions_only_github_runs_are_recorded(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - name: Publish
                uses: dorny/test-reporter@v1
                with:
                  name: Tests ${{ github.run_attempt }}
                  path: reports/*.xml
                  reporter: java-junit
    """,
    )
    assert result.mocked_actions == (
        MockedAction(
            "dorny/test-reporter@v1",
            {"name": "Tests 1", "path": "reports/*.xml", "reporter": "java-junit"},
            "j",
            "Publish",
        ),
    )


# ---------------------------------------------------------------------------------------------
# Logs, summaries, commands


def test_workflow_commands_annotations_and_masking(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            outputs:
              leak: ${{ steps.s.outputs.leak }}
              fine: ${{ steps.s.outputs.fine }}
            steps:
              - id: s
                run: |
                  echo "token is ${{ secrets.TOKEN }}"
                  echo "::add-mask::hidden-value"
                  echo "now hidden-value is masked"
                  echo "::error file=a.py,line=3,title=Bad::broken%0Athing"
                  echo "::warning::careful"
                  echo "::group::Details"
                  echo "::endgroup::"
                  echo "::stop-commands::pause"
                  echo "::error::not a command now"
                  echo "::pause::"
                  echo "leak=${{ secrets.TOKEN }}" >> "$GITHUB_OUTPUT"
                  echo "fine=ok" >> "$GITHUB_OUTPUT"
                  echo "summary with ${{ secrets.TOKEN }}" >> "$GITHUB_STEP_SUMMARY"
    """,
        secrets={"TOKEN": "s3cr3t-value"},
    )
    job = result.jobs["j"]
    assert job.steps[0].log.splitlines()[1:] == [
        "token is ***",
        "now *** is masked",
        "##[error]broken",
        "thing",
        "##[warning]careful",
        "##[group]Details",
        "##[endgroup]",
        "::error::not a command now",
    ]
    assert [(a.level, a.message, a.file, a.line, a.title) for a in result.annotations] == [
        ("error", "broken\nthing", "a.py", 3, "Bad"),
        ("warning", "careful", None, None, None),
    ]
    assert job.outputs == {"fine": "ok"}  # an output holding a secret is not set
    assert result.summary == "summary with ***\n"


def test_step_summaries_over_one_mib_are_not_shown(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        f"""
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - name: at limit
                run: |
                  head -c {SUMMARY_LIMIT - 1} /dev/zero | tr '\\0' a >> "$GITHUB_STEP_SUMMARY"
                  echo >> "$GITHUB_STEP_SUMMARY"
              - name: over limit
                run: head -c {SUMMARY_LIMIT + 1} /dev/zero | tr '\\0' b >> "$GITHUB_STEP_SUMMARY"
              - name: small
                run: printf '## done' >> "$GITHUB_STEP_SUMMARY"
          k:
            runs-on: ubuntu-latest
            steps:
              - run: echo "## second job" >> "$GITHUB_STEP_SUMMARY"
    """,
    )
    job = result.jobs["j"]
    assert len(job.step("at limit").summary) == SUMMARY_LIMIT
    assert job.step("over limit").summary == ""
    assert job.step("over limit").conclusion == "success"
    assert result.errors() == [
        "$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of 1024k, got "
        "1024k. For more information see: https://docs.github.com/actions/using-workflows/"
        "workflow-commands-for-github-actions#adding-a-markdown-summary"
    ]
    assert job.summary == "a" * (SUMMARY_LIMIT - 1) + "\n## done\n"
    assert result.summary == job.summary + "## second job\n"


def test_hash_files_over_the_workspace(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v5
              - run: echo "[${{ hashFiles('**/*.txt') }}] [${{ hashFiles('nothing/**') }}]"
              - if: hashFiles('data') != ''
                run: echo "data found"
    """,
        files={"data/b.txt": "bee\n", "a.txt": "ay\n", "data/c.bin": "x"},
    )
    digest = hashlib.sha256()
    for content in (b"ay\n", b"bee\n"):  # a.txt, data/b.txt
        digest.update(hashlib.sha256(content).digest())
    job = result.jobs["j"]
    assert job.steps[1].log.splitlines()[-1] == f"[{digest.hexdigest()}] []"
    assert job.steps[2].conclusion == "success"


# ---------------------------------------------------------------------------------------------
# Python, timeouts, cancellation


def test_setup_python_gives_each_job_a_fresh_venv_for_offline_pip(tmp_path: Path) -> None:
    short = f"{sys.version_info[0]}.{sys.version_info[1]}"
    job = f"""
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v5
              - id: py
                uses: actions/setup-python@v6
                with: {{python-version: "{short}", cache: pip}}
              - run: |
                  python -c "import sys; print(sys.prefix == '${{{{ env.pythonLocation }}}}')"
                  python -c "import tinypkg" 2>/dev/null && echo present || echo absent
                  python -m pip install -q ./pkg && python -c "import tinypkg; print(tinypkg.X)"
    """
    result = run_one(
        tmp_path,
        "on: workflow_dispatch\njobs:\n  a:" + job + "\n  b:" + job,
        files={
            "pkg/pyproject.toml": """
                             [build-system]
                             requires = ["setuptools"]
                             build-backend = "setuptools.build_meta"
                             [project]
                             name = "tinypkg"
                             version = "1.0"
                         """,
            "pkg/tinypkg.py": "X = 42\n",
        },
    )
    for name in ("a", "b"):
        steps = result.jobs[name].steps
        assert steps[1].outputs["python-version"] == ".".join(map(str, sys.version_info[:3]))
        # Each job starts without what the previous one installed.
        assert steps[2].log.splitlines()[1:] == ["True", "absent", "42"]
        assert result.jobs[name].python_versions == (short,)
    assert result.annotations == ()


def test_timeouts_for_steps_and_jobs(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          step:
            runs-on: ubuntu-latest
            steps:
              - name: slow
                timeout-minutes: 0.2
                run: exec sleep 5
              - if: always()
                run: echo after
          job:
            runs-on: ubuntu-latest
            timeout-minutes: 0.3
            steps:
              - run: exec sleep 5
              - name: cleanup
                if: always()
                run: echo "cleanup ran, cancelled=${{ cancelled() }}"
    """,
    )
    assert [s.conclusion for s in result.jobs["step"].steps] == ["failure", "success"]
    # A job timeout cancels the job (always() steps still run), then counts as a failure.
    assert [s.conclusion for s in result.jobs["job"].steps] == ["cancelled", "success"]
    assert "cleanup ran, cancelled=true" in result.jobs["job"].step("cleanup").log
    assert result.jobs["job"].conclusion == "failure"
    assert result.errors() == [
        "The action 'slow' has timed out after 0.2 minutes.",
        "The job running on runner GitHub Actions 1 has exceeded the maximum execution time "
        "of 0.3 minutes.",
        "The operation was canceled.",
    ]


TRAPPING = r"""
trap 'echo "INT $(date +%s.%N)" >> "$SIGNALS"' INT
trap 'echo "TERM $(date +%s.%N)" >> "$SIGNALS"' TERM
sleep 300 &
echo $! > "$CHILD"
touch "$READY"
while true; do sleep 0.05; done
"""


def test_cancellation_ladder_then_always_steps_and_jobs(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    runner = make_runner(
        tmp_path,
        {
            "w.yml": f"""
        on: workflow_dispatch
        jobs:
          train:
            runs-on: ubuntu-latest
            env:
              SIGNALS: {marks / "signals"}
              CHILD: {marks / "child"}
              READY: {marks / "ready"}
            steps:
              - name: Run training
                run: {json.dumps(TRAPPING)}
              - name: plain
                run: echo never
              - name: upload
                if: always()
                run: echo always ran
              - name: on cancel
                if: cancelled()
                run: echo cancelled ran
              - name: on failure
                if: failure()
                run: echo never
          report:
            needs: train
            runs-on: ubuntu-latest
            steps:
              - run: echo never
          merge:
            needs: train
            if: always()
            runs-on: ubuntu-latest
            steps:
              - run: echo "train=${{{{ needs.train.result }}}}"
    """
        },
    )
    started = time.monotonic()
    result = runner.run(
        ".github/workflows/w.yml",
        cancel=Cancel(
            "train",
            "Run training",
            when=(marks / "ready").exists,
        ),
    )
    elapsed = time.monotonic() - started
    signals = (marks / "signals").read_text().split("\n")[:-1]
    assert [line.split()[0] for line in signals] == ["INT", "TERM"]
    gap = float(signals[1].split()[1]) - float(signals[0].split()[1])
    assert FAST.sigint_grace - 0.1 <= gap <= FAST.sigint_grace + 0.4
    # Both signals were trapped, so only the SIGKILL of the process group ended the step,
    # its background child included.
    assert not alive(int((marks / "child").read_text()))
    assert elapsed >= FAST.sigint_grace + FAST.sigterm_grace
    train = result.jobs["train"]
    assert [(s.name, s.conclusion) for s in train.steps] == [
        ("Run training", "cancelled"),
        ("plain", "skipped"),
        ("upload", "success"),
        ("on cancel", "success"),
        ("on failure", "skipped"),
    ]
    assert train.conclusion == "cancelled"
    assert result.jobs["report"].conclusion == "skipped"
    assert "train=cancelled" in result.jobs["merge"].steps[0].log
    assert result.conclusion == "cancelled"


def test_a_running_always_step_is_not_cancelled(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - name: keeps going
                if: always()
                run: sleep 0.5; echo finished
              - name: later
                run: echo never
    """,
        cancel=Cancel("j", "keeps going", when=0.1),
    )
    job = result.jobs["j"]
    assert [(s.name, s.conclusion) for s in job.steps] == [
        ("keeps going", "success"),
        ("later", "skipped"),
    ]
    assert job.steps[0].log.splitlines()[-1] == "finished"
    assert job.conclusion == "cancelled"


def test_source_tree_is_checked_out_without_git_internals(tmp_path: Path) -> None:
    result = run_one(
        tmp_path,
        """
        on: workflow_dispatch
        jobs:
          j:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v5
                with: {path: sub, fetch-depth: 0, persist-credentials: false}
              - run: cd sub && find . -type f | sort
    """,
        files={"src/a.py": "print(1)\n", ".git/HEAD": "ref: refs/heads/main\n"},
    )
    assert result.jobs["j"].steps[1].log.splitlines()[1:] == [
        "./.github/workflows/w.yml",
        "./src/a.py",
    ]
    workspace = result.jobs["j"].workspace
    assert workspace is not None
    assert (workspace / "sub" / "src" / "a.py").read_text() == "print(1)\n"
