"""The only stage that starts processes: a scheduler feeding a process supervisor."""
