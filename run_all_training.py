#!/usr/bin/env python3
"""Shim so `python run_all_training.py ...` works from a checkout without installing."""

from orchestrator.cli import main

if __name__ == "__main__":
    main()
