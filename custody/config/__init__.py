"""Settings: one typed, frozen object, read from the environment when the app is created.

Every trial- or site-specific value (the facility's FIN, its time zone, the lockout threshold)
is a setting, not code (DOMAIN.md). Each variable is read here and only here, with its one
default, and checked before anything starts: a bad value stops `custody serve` or
`custody db upgrade` with one line that names the variable, says what is wrong and gives an
example, instead of a 500 on every request later. Services read the object through
`settings()`; nothing else reads `os.environ` or the Flask config for these values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from custody.config.audit_key import (
    AUDIT_KEY_MISSING,
    audit_key_problems,
    audit_secret,
    database_folder,
    read_audit_key,
)
from custody.config.paths import (
    EXTENSION_KEY,
    INSTANCE_PATH,
    MIGRATIONS,
    PROJECT_ROOT,
    SHIPPED_LABEL_TEMPLATES,
)
from custody.config.values import Settings, SettingsError, settings
from custody.config.variables import VARIABLE_NAMES, VARIABLES, Variable

__all__ = [
    "AUDIT_KEY_MISSING",
    "EXTENSION_KEY",
    "INSTANCE_PATH",
    "MIGRATIONS",
    "PROJECT_ROOT",
    "SHIPPED_LABEL_TEMPLATES",
    "VARIABLES",
    "VARIABLE_NAMES",
    "Settings",
    "SettingsError",
    "Variable",
    "audit_secret",
    "database_folder",
    "load_settings",
    "read_audit_key",
    "settings",
]


def load_settings(
    environ: Mapping[str, str] | None = None, instance_path: Path = INSTANCE_PATH
) -> Settings:
    """Settings from `environ` (the process environment by default), every variable checked.

    Raises SettingsError naming each bad variable; an unset or empty variable takes its default.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for variable in VARIABLES:
        raw = environ.get(variable.name, "")
        given = bool(raw.strip())
        if not given:
            default = variable.default
            raw = default(instance_path) if callable(default) else default
        try:
            values[variable.field] = variable.parse(raw)
        except ValueError as why:
            shown = "…" if variable.secret else raw if given else f"{raw} (the default)"
            problems.append(
                f"{variable.name}={shown} cannot be used: {why}; "
                f"set it like {variable.name}={variable.example}"
            )
    problems += audit_key_problems(values)
    if problems:
        raise SettingsError(problems)
    if values["database_url"].startswith("sqlite:///"):
        instance_path.mkdir(parents=True, exist_ok=True)
    return Settings(**values)
