"""The one error type nndl raises for problems a user can fix.

Anything that reaches a user because of what they gave us -- a file that is
missing, truncated or hostile, a setting out of range, an optional extra that
is not installed -- is an :class:`NNDLError` (or a subclass) whose message
names the problem and the value given.  The CLI prints it on one line and
exits with status 2.  Bugs inside nndl still raise ordinary exceptions.
"""

from __future__ import annotations

from types import ModuleType


class NNDLError(Exception):
    """A problem with the user's input, files or environment."""


class DataError(NNDLError):
    """A data set, model or checkpoint file that cannot be used."""


class ConfigError(NNDLError, ValueError):
    """A setting (layer sizes, epochs, eta ...) that is out of range."""


class MissingExtraError(NNDLError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs the '{extra}' extra: pip install \"nndl[{extra}]\" "
            f'(from a checkout: pip install -e ".[{extra}]")'
        )
        self.extra = extra


def require(module: str, feature: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(feature, extra) from None
