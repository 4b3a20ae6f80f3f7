"""``python -m nndl``: the same as the ``nndl`` command."""

import sys

from .cli import command

sys.exit(command())
