"""Local GPUs (issue 19, "Schedule"), without a GPU: `--gpus` and a fake `nvidia-smi`.

Each job records the CUDA_VISIBLE_DEVICES it was given and when it ran; that no two jobs
running at the same time share a device is proven from those records, not from what the
orchestrator says it did. The fake `nvidia-smi` answers `-L` with FAKE_GPUS devices, and
`--query-compute-apps` with FAKE_GPU_MIB for each device of each process that has both
set in its environment, as the real one lists a process once per GPU it holds.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest
from conftest import Project

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

FAKE_NVIDIA_SMI = f"""#!{sys.executable}
import os, pathlib, sys
calls = os.environ.get("FAKE_NVIDIA_SMI_CALLS")
if calls:
    with open(calls, "a") as log:
        log.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1:] == ["-L"]:
    for i in range(int(os.environ.get("FAKE_GPUS", "0"))):
        print(f"GPU {{i}}: Fake GPU (UUID: GPU-fake-{{i}})")
    sys.exit(0)
for proc in pathlib.Path("/proc").iterdir():
    try:
        pairs = proc.joinpath("environ").read_bytes().split(b"\\0")
    except OSError:
        continue
    env = dict(p.decode(errors="replace").partition("=")[::2] for p in pairs if b"=" in p)
    devices = [d for d in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if d]
    if devices and "FAKE_GPU_MIB" in env:
        for _ in devices:
            print(f"{{proc.name}}, {{env['FAKE_GPU_MIB']}}")
        asked = env.get("FAKE_ASKED")
        if asked:
            with open(asked, "a") as out:
                out.write("asked\\n")
"""


@pytest.fixture
def fake_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake nvidia-smi first on PATH; the orchestrator's own CUDA_VISIBLE_DEVICES unset."""
    fake = tmp_path / "fakebin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text(FAKE_NVIDIA_SMI)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return fake


#: Records its CUDA_VISIBLE_DEVICES and when it ran. Args: its name, then "meet OTHER"
#: (wait until OTHER runs too), "fail-once" (exit 1 on its first attempt) or "-".
STAMP = """
import json, os, pathlib, sys, time
me, how, other = sys.argv[1], sys.argv[2], sys.argv[3]
marks = pathlib.Path("marks")
marks.mkdir(exist_ok=True)
start = time.time()
(marks / f"{me}.running").touch()
deadline = time.monotonic() + 60
while how == "meet" and not (marks / f"{other}.running").exists():
    assert time.monotonic() < deadline, f"{other} never ran beside {me}"
    time.sleep(0.01)
time.sleep(0.2)
record = {"start": start, "end": time.time(), "devices": os.environ["CUDA_VISIBLE_DEVICES"]}
with open(marks / f"{me}.jsonl", "a") as out:
    out.write(json.dumps(record) + "\\n")
if how == "fail-once" and sum(1 for _ in open(marks / f"{me}.jsonl")) == 1:
    sys.exit(1)
"""


def stamped(project: Project, jobs: dict[str, tuple[float, str]]) -> None:
    """`jobs`: name → (gpus, how); each job runs STAMP."""
    project.script("tools/stamp.py", STAMP)
    lines = ["jobs:"]
    for name, (gpus, how) in jobs.items():
        mode, _, other = how.partition(" ")
        argv = [sys.executable, "tools/stamp.py", name, mode or "-", other or "-"]
        lines += [f"  {name}:", f"    command: {json.dumps(argv)}", f"    gpus: {gpus}"]
        if mode == "fail-once":
            lines += ["    retries: 1", "    retry_delay: 0"]
    project.config("configs/jobs.yaml", "\n".join(lines) + "\n")


def records(project: Project, name: str) -> list[dict[str, object]]:
    text = (project.root / "marks" / f"{name}.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


PARALLEL = ("--no-auto-discover", "--parallel", "--max-workers", "4", "--cpus", "4")


def test_running_jobs_never_share_a_device_and_wait_for_free_ones(
    project: Project, fake_smi: Path
) -> None:
    stamped(
        project,
        {"a": (2, "meet b"), "b": (1, "meet a"), "c": (2, "-"), "d": (1, "fail-once")},
    )
    result = project.run(*PARALLEL, "--gpus", "0,1,2")
    assert result.returncode == 0, result.stdout + result.stderr
    runs = [(name, run) for name in "abcd" for run in records(project, name)]
    for name, run in runs:
        devices = str(run["devices"]).split(",")
        assert set(devices) <= {"0", "1", "2"}, (name, run)
        assert len(devices) == len(set(devices)) == (2 if name in "ac" else 1), (name, run)
    overlapping = 0
    for (one, x), (two, y) in itertools.combinations(runs, 2):
        if float(x["start"]) < float(y["end"]) and float(y["start"]) < float(x["end"]):  # type: ignore[arg-type]
            overlapping += 1
            shared = set(str(x["devices"]).split(",")) & set(str(y["devices"]).split(","))
            assert not shared, (one, x, two, y)
    assert overlapping >= 1  # a and b met: the check above was not vacuous
    # The retry got devices of its own too, and the summary says which each attempt held.
    attempts = project.jobs()["d"]["attempts"]
    assert [a["gpu_devices"] for a in attempts] == [[r["devices"]] for r in records(project, "d")]
    assert project.jobs()["a"]["attempts"][0]["gpu_devices"] == ["0", "1"]


def test_devices_come_from_nvidia_smi_when_not_given(
    project: Project, fake_smi: Path, tmp_path: Path
) -> None:
    stamped(project, {"a": (2, "-")})
    calls = tmp_path / "calls"
    env = {"FAKE_GPUS": "2", "FAKE_NVIDIA_SMI_CALLS": str(calls)}
    result = project.run("--no-auto-discover", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert records(project, "a")[0]["devices"] == "0,1"
    assert "-L" in calls.read_text().splitlines()


def test_the_orchestrators_own_cuda_visible_devices_bound_what_jobs_get(
    project: Project, fake_smi: Path, tmp_path: Path
) -> None:
    stamped(project, {"a": (1, "-")})
    calls = tmp_path / "calls"
    env = {"CUDA_VISIBLE_DEVICES": "3", "FAKE_GPUS": "8", "FAKE_NVIDIA_SMI_CALLS": str(calls)}
    result = project.run("--no-auto-discover", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert records(project, "a")[0]["devices"] == "3"
    assert "-L" not in calls.read_text().splitlines()


def test_cpu_only_plans_never_ask_nvidia_smi(
    project: Project, fake_smi: Path, tmp_path: Path
) -> None:
    stamped(project, {"a": (0, "-")})
    calls = tmp_path / "calls"
    env = {"FAKE_GPUS": "2", "FAKE_NVIDIA_SMI_CALLS": str(calls)}
    for args in (("--list",), ("--dry-run",)):
        result = project.run("--no-auto-discover", *args, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    assert not calls.exists()


#: (gpus: asked, options, environment, the error's first line)
REFUSED: list[tuple[float, tuple[str, ...], dict[str, str], str]] = [
    (
        1,
        (),
        {},
        "configs/jobs.yaml:4: jobs.a.gpus: a needs 1 GPU, no GPU here "
        "(nvidia-smi -L: not on PATH); name the devices with --gpus 0,1 or "
        "CUDA_VISIBLE_DEVICES",
    ),
    (
        3,
        ("--gpus", "0,1"),
        {},
        "configs/jobs.yaml:4: jobs.a.gpus: a needs 3 GPUs, only 2 here (--gpus: 0,1); "
        "name the devices with --gpus 0,1 or CUDA_VISIBLE_DEVICES",
    ),
    (
        0.5,
        ("--gpus", "0"),
        {},
        "configs/jobs.yaml:4: jobs.a.gpus: 0.5 of a GPU: this machine lends whole devices; "
        "ask for 1, or run on Ray (--backend ray) to share one",
    ),
    (
        1,
        (),
        {"CUDA_VISIBLE_DEVICES": ""},
        "configs/jobs.yaml:4: jobs.a.gpus: a needs 1 GPU, no GPU here "
        "(CUDA_VISIBLE_DEVICES=''); name the devices with --gpus 0,1 or CUDA_VISIBLE_DEVICES",
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=["none", "too few", "a fraction", "empty env"])
def test_gpus_this_machine_cannot_give_are_refused_before_anything_runs(
    project: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[float, tuple[str, ...], dict[str, str], str],
) -> None:
    gpus, args, env, message = case
    (tmp_path / "nobin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "nobin"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    stamped(project, {"a": (gpus, "-")})
    result = project.run("--no-auto-discover", *args, env=env)
    assert (result.returncode, result.stderr.splitlines()[0]) == (2, f"error: {message}")
    assert not (project.root / "marks").exists()


def test_a_bad_gpus_option_is_refused(project: Project) -> None:
    stamped(project, {"a": (1, "-")})
    for value, why in (("0,0", "'0' is listed twice"), ("0,,1", "'' in '0,,1' is not a device")):
        result = project.run("--no-auto-discover", "--gpus", value)
        assert result.returncode == 2
        assert why in result.stderr


#: Holds "GPU memory" (FAKE_GPU_MIB per device, as the fake nvidia-smi reports it) until
#: the fake is asked a second time, so the first answer has been taken in; then leaves.
HOLDER = """
import os, pathlib, sys, time
asked = pathlib.Path(os.environ["FAKE_ASKED"])
deadline = time.monotonic() + 60
while not asked.exists() or len(asked.read_text().splitlines()) < 2:
    assert time.monotonic() < deadline, "nvidia-smi was not asked twice"
    time.sleep(0.02)
"""


def test_each_jobs_gpu_memory_is_in_the_summary_and_cpu_jobs_see_no_device(
    project: Project, fake_smi: Path, tmp_path: Path
) -> None:
    project.script("tools/holder.py", HOLDER)
    seen = tmp_path / "seen"
    project.config(
        "configs/jobs.yaml",
        f"""
jobs:
  train:
    command: [{sys.executable!r}, tools/holder.py]
    gpus: 2
    env: {{FAKE_GPU_MIB: 1000, FAKE_ASKED: {str(tmp_path / "asked")!r}}}
  prep:
    command: [sh, -c, 'echo "[$CUDA_VISIBLE_DEVICES]" > {seen}']
""",
    )
    result = project.run("--no-auto-discover", "--gpus", "0,1,2")
    assert result.returncode == 0, result.stdout + result.stderr
    attempt = project.jobs()["train"]["attempts"][0]
    assert attempt["gpu_devices"] == ["0", "1"]
    assert attempt["usage"]["gpu_peak_memory_bytes"] == 2000 << 20  # listed once per device
    assert seen.read_text() == "[]\n"
    assert "gpu_devices" not in project.jobs()["prep"]["attempts"][0]
