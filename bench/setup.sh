#!/usr/bin/env bash
# Install the tools bench/run.py compares the orchestrator with, when they are missing:
# GNU parallel (Debian package) and Snakemake (PyPI). A failed install is reported and
# skipped: the benchmarks then mark that tool "absent" instead of failing.
# Usage (from the repository root): bash bench/setup.sh && python3 bench/run.py
set -u

PYTHON="${PYTHON:-python3}"

have_parallel() {
    command -v parallel >/dev/null 2>&1 && parallel --version 2>/dev/null | grep -q "GNU parallel"
}

have_snakemake() {
    "$PYTHON" -m snakemake --version >/dev/null 2>&1
}

if have_parallel; then
    echo "setup: GNU parallel present: $(parallel --version | head -n 1)"
else
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing GNU parallel (apt-get)"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq parallel; } \
            >/tmp/bench-setup-parallel.log 2>&1 \
            || echo "setup: apt-get install parallel failed (see /tmp/bench-setup-parallel.log)"
    else
        echo "setup: not root or no apt-get: cannot install GNU parallel"
    fi
    if have_parallel; then
        echo "setup: GNU parallel installed: $(parallel --version | head -n 1)"
    else
        echo "setup: GNU parallel absent: its benchmark variants will be skipped"
    fi
fi

if have_snakemake; then
    echo "setup: Snakemake present: $("$PYTHON" -m snakemake --version 2>/dev/null | tail -n 1)"
else
    echo "setup: installing Snakemake (pip)"
    "$PYTHON" -m pip install -q snakemake >/tmp/bench-setup-snakemake.log 2>&1 \
        || echo "setup: pip install snakemake failed (see /tmp/bench-setup-snakemake.log)"
    if have_snakemake; then
        echo "setup: Snakemake installed: $("$PYTHON" -m snakemake --version 2>/dev/null | tail -n 1)"
    else
        echo "setup: Snakemake absent: its benchmark variants will be skipped"
    fi
fi
exit 0
