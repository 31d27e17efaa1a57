"""The bundled sample projects (``sample_projects/``): listing and locating them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.errors import WorkbenchError


def samples_dir() -> Path:
    """Where the samples live: beside the package in a checkout, or as installed package data."""
    import sample_projects

    return Path(sample_projects.__file__).parent


@dataclass(frozen=True)
class Sample:
    """One bundled sample project."""

    id: str
    name: str
    description: str
    path: Path
    data: tuple[str, ...]
    incoming: tuple[str, ...]


def list_samples() -> list[Sample]:
    """Every bundled sample, sorted by id."""
    import yaml

    out = []
    for folder in sorted(samples_dir().iterdir()):
        config = folder / "workbench.yaml"
        if not config.is_file():
            continue
        raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        project = raw.get("project") or {}
        sample = raw.get("sample") or {}
        out.append(Sample(
            id=folder.name,
            name=str(project.get("name", folder.name)),
            description=str(project.get("description", "")),
            path=folder,
            data=tuple(sample.get("data") or ()),
            incoming=tuple(sample.get("incoming") or ()),
        ))
    return out


def get_sample(sample_id: str) -> Sample:
    """The sample called ``sample_id``, or a one-line error listing the ones there are."""
    samples = list_samples()
    for sample in samples:
        if sample.id == sample_id:
            return sample
    names = ", ".join(s.id for s in samples) or "none"
    raise WorkbenchError(f"there is no sample called {sample_id!r}: choose one of {names}")
