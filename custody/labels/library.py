"""The templates a site has: every file under the templates folder, loaded and checked.

The folder is read again whenever a file in it changes (a new version dropped in does not
need a restart), and a file that fails its checks is kept aside with its problems rather
than stopping the others: the list of templates shows it, and it can never be approved.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from custody.domain.errors import NotFound
from custody.labels.templates import LabelTemplate, TemplateInvalid, load_template


@dataclass(frozen=True)
class TemplateLibrary:
    folder: Path
    templates: dict[tuple[str, int], LabelTemplate]
    invalid: dict[str, TemplateInvalid]

    def get(self, name: str, version: int) -> LabelTemplate:
        try:
            return self.templates[(name, version)]
        except KeyError:
            problem = self.invalid.get(f"{name}.v{version}.toml")
            detail = f": {problem}" if problem else ""
            raise NotFound(
                f"There is no usable label template {name} v{version}{detail}.",
                template=name,
                version=version,
            ) from None

    def versions(self, name: str) -> list[LabelTemplate]:
        """A purpose's templates, newest first."""
        found = [t for (n, _), t in self.templates.items() if n == name]
        return sorted(found, key=lambda t: t.version, reverse=True)


def load_library(folder: Path) -> TemplateLibrary:
    files = sorted(folder.glob("*.toml"))
    return _load(folder, tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files))


@functools.lru_cache(maxsize=8)
def _load(folder: Path, snapshot: tuple) -> TemplateLibrary:
    templates, invalid = {}, {}
    for name, _, _ in snapshot:
        try:
            template = load_template(folder / name)
        except TemplateInvalid as exc:
            invalid[name] = exc
        else:
            templates[(template.name, template.version)] = template
    return TemplateLibrary(folder, templates, invalid)
