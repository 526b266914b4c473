"""What real scripts call the epoch count, the output dir and the seed, and how to tell a
name that looks like one from one that is one.

The table comes from a survey of public training scripts (transformers and TRL examples,
Lightning and Hydra templates, DCGAN/VAE/ResNet reference scripts, Flax and SageMaker
examples): an entry is `certain` when the name means the knob wherever it was seen, and
`likely` when it also meant something else somewhere (`--epoch` as a start index,
`--log_dir` beside a separate checkpoint dir). Evidence in a help text, a default or the
way the value is used can only demote or reject a name, or lift a `likely` one whose help
says exactly what the knob is: a false positive costs a broken run, a miss only a default.
"""

from __future__ import annotations

import re

CERTAIN = "certain"
LIKELY = "likely"

#: Canonical name (lower case, no `-`/`_`) → (knob, confidence).
SYNONYMS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        (
            "epochs",
            "numepochs",
            "nepochs",
            "nbepochs",
            "maxepochs",
            "numtrainepochs",
            "trainepochs",
            "totalepochs",
            "numtrainingepochs",
            "trainingepochs",
        ),
        ("epochs", CERTAIN),
    ),
    **dict.fromkeys(("epoch", "nepoch", "numepoch", "maxepoch", "epochnum"), ("epochs", LIKELY)),
    **dict.fromkeys(
        (
            "outputdir",
            "outdir",
            "outputdirectory",
            "savedir",
            "checkpointdir",
            "checkpointsdir",
            "ckptdir",
            "workdir",
            "resultsdir",
            "resultdir",
            "outputfolder",
            "defaultrootdir",
        ),
        ("output_dir", CERTAIN),
    ),
    **dict.fromkeys(
        (
            "output",
            "outputpath",
            "savepath",
            "logdir",
            "logsdir",
            "modeldir",
            "expdir",
            "rundir",
            "savefolder",
            "checkpointpath",
        ),
        ("output_dir", LIKELY),
    ),
    **dict.fromkeys(
        ("seed", "randomseed", "manualseed", "rngseed", "seedvalue", "globalseed", "randseed"),
        ("seed", CERTAIN),
    ),
}

#: Environment variables that name the output dir, and the platforms that set them.
ENV_OUTPUT_DIRS = {
    "OUTPUT_DIR": "environment",
    "SM_MODEL_DIR": "SageMaker",
    "AIP_MODEL_DIR": "Vertex AI",
}

# Patterns, not compiled ones: compiling is paid on first use (by re's cache), so a
# process whose scripts have no synonym to judge, like most --list runs, pays nothing.
_NOT_A_COUNT = (
    r"\b(start|starting|begin|resume|resuming|restart|restarts|from|warm-?up|per|every|"
    r"each|inner|between|eval|evaluate|evaluation|decay|patience|freeze|unfreeze|milestones?)\b"
)
_A_COUNT = r"\b(number of|total|how many|max(imum)?)\b.*\bepochs?\b|\bepochs? to (train|run)"
_READ_FROM = r"\b(load|loaded|read|input|inputs|pretrained|from|resume)\b"
_WRITTEN_TO = r"\b(save|saved|saves|saving|store|stored|write|written|writes|output|outputs)\b"
_A_FILE = r"\bfile\b"
_FILE_DEFAULT = r"\.[A-Za-z][A-Za-z0-9]{0,4}$"


def canonical_name(name: str) -> str:
    """`--num_train_epochs`, `--num-train-epochs`, `numTrainEpochs` → `numtrainepochs`."""
    return re.sub(r"[-_.]", "", name.lstrip("-")).lower()


def lookup(name: str) -> tuple[str, str] | None:
    """(knob, confidence) a name means by itself, or None; a dotted key by its last part."""
    return SYNONYMS.get(canonical_name(name.rsplit(".", 1)[-1]))


class Evidence:
    """What a script says around a name: its help text, default and use."""

    __slots__ = ("default", "help", "is_int", "is_text", "start_index")

    def __init__(
        self,
        help_text: str | None = None,
        default: object = None,
        *,
        is_int: bool | None = None,
        is_text: bool | None = None,
        start_index: bool = False,
    ) -> None:
        self.help = (help_text or "").lower()
        self.default = default
        #: None where the type is not known; a default's type counts as known.
        self.is_int = is_int if is_int is not None else _is_int(default)
        self.is_text = is_text if is_text is not None else _is_text(default)
        #: The value is the first of two arguments of `range()`: where counting starts.
        self.start_index = start_index


def _is_int(value: object) -> bool | None:
    if value is None:
        return None
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: object) -> bool | None:
    return None if value is None else isinstance(value, str)


def judge(knob: str, confidence: str, evidence: Evidence) -> tuple[str | None, str]:
    """(confidence or None, why): the name's own confidence, demoted or rejected by what the
    script says of it, or lifted where its help names the knob exactly."""
    if knob == "epochs":
        return _judge_count(confidence, evidence)
    if knob == "output_dir":
        return _judge_dir(confidence, evidence)
    if evidence.is_int is False or evidence.is_text:
        return None, "not an integer"
    return confidence, ""


def _judge_count(confidence: str, evidence: Evidence) -> tuple[str | None, str]:
    if evidence.start_index:
        return None, "used where counting starts (range's first argument)"
    if re.search(_NOT_A_COUNT, evidence.help):
        return None, f"help says {evidence.help!r}"
    if evidence.is_int is False:
        return None, f"default {evidence.default!r} is not a count"
    if confidence == LIKELY and re.search(_A_COUNT, evidence.help):
        return CERTAIN, ""
    return confidence, ""


def _judge_dir(confidence: str, evidence: Evidence) -> tuple[str | None, str]:
    written = bool(re.search(_WRITTEN_TO, evidence.help))
    if not written and re.search(_READ_FROM, evidence.help):
        return None, f"read from, not written to (help: {evidence.help!r})"
    if (
        re.search(_A_FILE, evidence.help)
        and "dir" not in evidence.help
        and "folder" not in evidence.help
    ):
        return None, f"a file, not a dir (help: {evidence.help!r})"
    if isinstance(evidence.default, str) and re.search(_FILE_DEFAULT, evidence.default):
        return None, f"a file, not a dir (default {evidence.default!r})"
    if evidence.is_int:
        return None, "an integer, not a dir"
    if confidence == LIKELY and written and re.search(r"\b(dir|directory|folder)\b", evidence.help):
        return CERTAIN, ""
    return confidence, ""
