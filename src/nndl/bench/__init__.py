"""``nndl bench``: nndl's training speed against what users would pick instead.

:mod:`~nndl.bench.peers` holds the other implementations, :mod:`~nndl.bench.run`
the measurements (each in a fresh process) and :mod:`~nndl.bench.report` the
Markdown tables they become.
"""
