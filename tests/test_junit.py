"""summaries/junit.xml as check publishers and CI UIs read it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from conftest import Project

#: The Ant JUnit schema's timestamp: xs:dateTime restricted to no zone and no fraction.
ANT_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def test_totals_on_testsuites_and_an_ant_valid_timestamp(project: Project) -> None:
    project.script("training/train_good.py")
    project.script("training/train_bad.py", "import sys; print('boom'); sys.exit(3)\n")
    project.script("training/train_after.py")
    project.config("configs/jobs.yaml", "jobs:\n  after: {needs: [bad]}\n")
    assert project.run().returncode == 1
    root = ET.parse(project.root / "summaries/junit.xml").getroot()
    (suite,) = root
    expected = {"tests": "3", "failures": "1", "errors": "0", "skipped": "1"}
    assert {k: root.get(k) for k in expected} == expected
    assert {k: suite.get(k) for k in expected} == expected
    assert root.get("time") == suite.get("time")
    assert ANT_TIMESTAMP.match(suite.get("timestamp", "")), suite.get("timestamp")
    assert project.summary()["started_at"].startswith(suite.get("timestamp", "?"))
    cases = {case.get("name"): case for case in suite}
    failure = cases["bad"].find("failure")
    assert failure is not None and "boom" in (failure.text or "")
    assert cases["after"].find("skipped") is not None
