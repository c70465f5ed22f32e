"""The one error every settings parser raises."""

from __future__ import annotations


class SettingsError(ValueError):
    """A stack config value is missing or malformed; the message names the key, never a value."""
