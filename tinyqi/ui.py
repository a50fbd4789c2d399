"""Terminal display: a progress line per stage while work runs, loud warnings, and summary tables."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table


class Ui:
    def __init__(self, quiet: bool = False):
        self.console = Console(stderr=True, quiet=quiet)
        self.out = Console()

    def warn(self, text: str) -> None:
        self.console.print(f"[bold yellow]WARNING:[/] [yellow]{text}[/]")

    @contextmanager
    def stage(self, name: str, total: int | None = None):
        """Shows a spinner (or a bar when `total` is known); yields advance(note) for per-step updates."""
        start = time.monotonic()
        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if total:
            columns += [BarColumn(), TextColumn("{task.completed}/{task.total}")]
        with Progress(*columns, TimeElapsedColumn(), console=self.console, transient=True) as progress:
            task = progress.add_task(name, total=total)

            def advance(note: str = "") -> None:
                progress.update(task, advance=1, description=f"{name}  {note}")

            yield advance
        self.console.print(f"[green]✓[/] {name} ({time.monotonic() - start:.1f} s)")

    def table(self, title: str, header: list[str], rows: list[list]) -> None:
        t = Table(title=title)
        for h in header:
            t.add_column(h, justify="right" if h != header[0] else "left")
        for r in rows:
            t.add_row(*[str(c) for c in r])
        self.out.print(t)
