"""Reports across runs: show one summary, compare two, chart the trend over many.

One module per command holds its model, a frozen value computed from typed summaries
(`compare`, `trend`; `show`'s model is the summary itself), and one module its renderers
per format (`compare_views`, `trend_views`). Everything here reads summaries loaded through
`orchestrator.run_summary` (never a live run), so summaries copied from CI artifacts,
merged from shards or rebuilt from a journal all compare the same way.
"""
