"""`summaries/junit.xml`: one testcase per job, read by test-report actions and CI UIs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from orchestrator.models import Status
from orchestrator.report.logs import tail_lines
from orchestrator.report.summary import metric_text
from orchestrator.run_summary import RunSummary

#: Characters XML 1.0 cannot hold at all (a log may contain any byte), and lone
#: surrogates, which no UTF-8 file can hold either.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
FAILURE = {Status.FAILED, Status.TIMED_OUT, Status.OUT_OF_MEMORY, Status.GATE_FAILED}


def render(summary: RunSummary, base: Path, tail_count: int = 100) -> str:
    jobs = summary.jobs
    totals = {
        "tests": str(len(jobs)),
        "failures": str(sum(job.status in FAILURE for job in jobs)),
        "errors": str(sum(job.status is Status.CANCELLED for job in jobs)),
        "skipped": str(sum(job.status is Status.SKIPPED for job in jobs)),
        "time": f"{summary.duration_s:.3f}",
    }
    # Readers that validate against the Ant schema (Jenkins, some check publishers) take
    # a timestamp with no zone and no fraction; it is UTC, as every time we write.
    root = ET.Element("testsuites", {"name": "training-orchestrator", **totals})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": "training-orchestrator",
            **totals,
            "timestamp": summary.started_at[:19],
            "hostname": summary.host or "",
        },
    )
    for job in jobs:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": "training",
                "name": job.id,
                "time": f"{job.duration_s:.3f}",
            },
        )
        status, reason = job.status, job.reason or job.status.value
        if status in FAILURE or status is Status.CANCELLED:
            kind = "failure" if status in FAILURE else "error"
            attributes = {"message": _clean(reason), "type": status.value}
            element = ET.SubElement(case, kind, attributes)
            if job.attempts:  # else no log of this run: the file is an earlier run's
                log = "\n".join(tail_lines(base / job.log_path, tail_count))
                element.text = _clean(log)
        elif status is Status.SKIPPED:
            ET.SubElement(case, "skipped", {"message": _clean(reason)})
        metrics = " ".join(f"{k}={metric_text(v, 6)}" for k, v in job.metrics.items())
        if metrics:
            # Metric names come from a job's file, or from a summary an older version wrote.
            ET.SubElement(case, "system-out").text = _clean(metrics)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)
