"""What the CLI prints: JSON for scripts (``--json``) or readable tables (rich) for people.
Results go to stdout; errors and progress to stderr, so a pipe gets only the result."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

# Piped output keeps each row on one line (grep-able); a terminal gets its own width.
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 1000)
stderr = Console(stderr=True, soft_wrap=True)


def emit_json(payload: Any) -> None:
    # plain print through click would also do; rich's print_json would re-indent and colour
    stdout.out(json.dumps(payload, indent=2, ensure_ascii=False), highlight=False)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    view = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in columns:
        view.add_column(column, overflow="fold")  # whole paths and ids, never "…"
    for row in rows:
        view.add_row(*("—" if cell is None else str(cell) for cell in row))
    stdout.print(view)


def say(text: str) -> None:
    stdout.print(text, highlight=False, markup=False)


def warn(text: str) -> None:
    stderr.print(text, highlight=False, markup=False, style="bold red")


def box(bbox: Sequence[float]) -> str:
    return ", ".join(str(round(v)) for v in bbox)


def attributes(found: dict[str, Any] | None) -> str | None:
    """``age 34, male 0.93, yaw -12 pitch 4 roll 1``; the parts the engine gave."""
    if not found:
        return None
    parts = []
    if found.get("age") is not None:
        parts.append(f"age {found['age']}")
    if found.get("gender") is not None:
        parts.append(f"{found['gender']} {found.get('gender_probability') or 0:.2f}")
    pose = found.get("pose")
    if pose:
        parts.append(f"yaw {pose['yaw']:.0f} pitch {pose['pitch']:.0f} roll {pose['roll']:.0f}")
    return ", ".join(parts) or None


def quality(found: dict[str, Any] | None) -> str | None:
    """``0.56 size``: the score and its weakest component (docs/quality.md)."""
    if not found:
        return None
    parts = found.get("components") or {}
    weakest = min(parts.items(), key=lambda item: item[1])[0] if parts else ""
    return f"{found['score']:.2f} {weakest}".strip()


def dominant(emotions: dict[str, float] | None) -> str | None:
    if not emotions:
        return None
    label, score = max(emotions.items(), key=lambda item: item[1])
    return f"{label} {score:.2f}"
