"""Where the project keeps what it ships, and where an installation keeps its own files."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_PATH = PROJECT_ROOT / "instance"
MIGRATIONS = PROJECT_ROOT / "migrations"
# The label templates the project ships (labels/*.toml); CUSTODY_LABEL_TEMPLATES may name others.
SHIPPED_LABEL_TEMPLATES = PROJECT_ROOT / "labels"
EXTENSION_KEY = "custody.settings"
