"""Results at a glance: result files -> per study one Markdown table and two PNG figures.

:mod:`.collect` reads result files into models, :mod:`.stats` computes means, spreads and
tests over seeds, :mod:`.table` writes the Markdown table, :mod:`.figures` the PNGs;
``python -m recbole_hsuga.report`` (:mod:`recbole_hsuga.report`) is the command line.
"""
