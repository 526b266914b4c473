"""`python -m orchestrator` behaves exactly like the `run-all-training` console script."""

from orchestrator.cli import main

main()
