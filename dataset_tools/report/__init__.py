"""``report``: summaries of an HSU run folder.

Modules: ``summary`` (operation counts and frequencies, parse failures, a user's
trajectory as a table; also written to ``report.json`` by every ``hsu`` invocation) and
``cli`` (the ``report`` subcommand).
"""
