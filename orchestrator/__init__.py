"""training-orchestrator: discover, plan, run and report ML training scripts."""

__version__ = "0.1.0"
