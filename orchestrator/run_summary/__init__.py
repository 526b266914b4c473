"""The run summary as a typed value: the one place that reads and writes its JSON.

Every reader and writer of a summary goes through here: `load()` (tolerant of older
schema versions, one clear line on a bad file) and `dump()`, the frozen values they pass
(`RunSummary`, `JobRecord`, `AttemptRecord`), and the names of the output layout
(`summaries/`, `latest.json`), so no reader spells them twice.

- `records`: the values and the format's version;
- `layout`: where summaries live;
- `reading`: from JSON, every field checked;
- `writing`: to JSON.
"""

from orchestrator.run_summary.layout import (
    JOURNAL_PREFIX,
    LATEST,
    SUMMARY_DIR,
    SUMMARY_PREFIX,
    in_run_order,
    journal_name,
    summary_files,
    summary_name,
)
from orchestrator.run_summary.reading import (
    attempt_from_document,
    from_document,
    job_from_document,
    load,
    read_text,
    succeeded_durations,
)
from orchestrator.run_summary.records import (
    NON_FINITE,
    SCHEMA_VERSION,
    AttemptRecord,
    JobRecord,
    RunSummary,
    decode_metric,
    encode_metric,
    is_trial,
    parse_iso,
)
from orchestrator.run_summary.writing import attempt_document, dump, job_document

__all__ = [
    "JOURNAL_PREFIX",
    "LATEST",
    "NON_FINITE",
    "SCHEMA_VERSION",
    "SUMMARY_DIR",
    "SUMMARY_PREFIX",
    "AttemptRecord",
    "JobRecord",
    "RunSummary",
    "attempt_document",
    "attempt_from_document",
    "decode_metric",
    "dump",
    "encode_metric",
    "from_document",
    "in_run_order",
    "is_trial",
    "job_document",
    "job_from_document",
    "journal_name",
    "load",
    "parse_iso",
    "read_text",
    "succeeded_durations",
    "summary_files",
    "summary_name",
]
