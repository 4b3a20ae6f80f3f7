"""``nndl serve``: the draw page, the training lab and the pages' files.

The rest of the package comes in only through the names below; the modules
inside are the server (:mod:`~nndl.serve.server`), the lab's runs
(:mod:`~nndl.serve.lab`) and the routes of the lab and the draw page
(:mod:`~nndl.serve.lab_api`, :mod:`~nndl.serve.inside_api`).  The pages are
plain HTML, CSS and JavaScript in ``web/``.
"""

from __future__ import annotations

from .gate import check_token
from .inside_api import check_save_to
from .server import check_installed, serve

__all__ = ["check_installed", "check_save_to", "check_token", "serve"]
