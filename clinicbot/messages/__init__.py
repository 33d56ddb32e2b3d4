"""Every patient-facing text as an editable template (issue #14).

``defaults`` (what the repository ships), ``placeholders`` (the ``{name}`` grammar: validation
and filling), ``store`` (the database: seed, edit, history, rollback), ``cache`` (a per-process
snapshot invalidated by a revision counter), ``rendering`` (choose the text, A/B variant
included, and never send it broken), ``ab_tests`` and ``satisfaction``.
"""
