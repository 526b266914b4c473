"""training-orchestrator: discover, plan, run and report ML training scripts.

The stages, in the order data flows (ARCHITECTURE.md has the whole map and the rules):

    discovery.py   train_*.py scripts and the flags their source accepts
    config/        YAML job definitions, validated with file, line and key
    jobs/          discovered + configured → JobSpecs; --only/--exclude
    plan/          one command per job: the Plan, a pure value
    decide/        which jobs run and which results stand: pure
    execute/       the only stage that starts processes; emits events
    report/        listens to the events; writes the summary and its renderings

The commands above them: cli/ → pipeline.py (and commands.py, run.py, resume.py,
shards.py). The values between them: models/, events.py, run_summary/, errors.py.
"""

__version__ = "0.1.0"
