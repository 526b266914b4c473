"""Which files of `configs/` are read: `*.yaml` and `*.yml` as a shell globs them, hidden
ones not. An editor's lock beside an open config (Emacs's `.#jobs.yaml`, a symlink to
`user@host.pid`) or macOS's `._jobs.yaml` after an unzip made every run exit 2."""

from __future__ import annotations

from conftest import Project


def test_hidden_files_beside_a_config_are_not_read(project: Project) -> None:
    project.script("training/train_fit.py")
    project.config("configs/jobs.yaml", "jobs:\n  fit: {epochs: 7}\n")
    (project.root / "configs/.#jobs.yaml").symlink_to("me@host.4242:1764460000")
    (project.root / "configs/._jobs.yaml").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    result = project.run("--dry-run")
    assert (result.returncode, result.stderr) == (0, "")
    assert "--epochs 7" in result.stdout
    # Named on purpose, a hidden file is read like any other.
    asked = project.run("--dry-run", "--config", "configs/._jobs.yaml")
    assert asked.returncode == 2
    assert asked.stderr.startswith("error: configs/._jobs.yaml:1: ")


def test_a_config_larger_than_any_config_is_refused_unread(project: Project) -> None:
    """`--config` naming a data set, or a device that never ends, is one line, exit 2;
    reading it whole took minutes and gigabytes, or forever."""
    project.script("training/train_fit.py")
    with (project.root / "data.yaml").open("wb") as big:
        big.write(b"x-a: 1\n")
        big.truncate(64 << 20 | 1)  # sparse: the size a data set has, at no cost
    for name, shown in (("data.yaml", "data.yaml"), ("/dev/zero", "/dev/zero")):
        result = project.run("--dry-run", "--config", name)
        assert (result.returncode, result.stderr) == (
            2,
            f"error: {shown}: larger than 64 MiB: not a config file\n",
        )
