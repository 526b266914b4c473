"""Everything users see or keep: console output, the JSON summary."""
