"""The program's settings, one module per concern; this package's face is `StackSettings`."""

from billing.config.errors import SettingsError
from billing.config.keys import PROJECT_KEYS
from billing.config.stack_settings import StackSettings, load_settings, parse_settings

__all__ = ["PROJECT_KEYS", "SettingsError", "StackSettings", "load_settings", "parse_settings"]
