"""Sections as chat text, in the reader's language."""

from __future__ import annotations

from kernel.i18n import Translator
from reports.period import Period
from reports.sections import Cell, Label, Section


def cell_text(t: Translator, cell: Cell) -> str:
    if isinstance(cell, Label):
        return t(cell.key, **cell.params)
    if isinstance(cell, dict):
        return cell.get(t.locale) or cell.get("ko") or ""
    if cell is None:
        return "-"
    if isinstance(cell, float):
        return f"{cell:.1f}" if cell != int(cell) or abs(cell) < 1000 else f"{cell:,.0f}"
    if isinstance(cell, int):
        return f"{cell:,}"
    return cell


def headers(t: Translator, section: Section) -> list[str]:
    return [t(f"stats.col.{c}") for c in section.columns]


def section_text(t: Translator, section: Section) -> str:
    """The title, the note, then one line per row: what it is (names), then the figures."""
    lines = [t(f"stats.section.{section.key}")]
    if section.note is not None:
        lines.append(cell_text(t, section.note))
    if not section.rows:
        lines.append(t("stats.no_data"))
    names = headers(t, section)
    for row in section.rows:
        what = [cell_text(t, c) for c in row if not isinstance(c, (int, float)) and c is not None]
        figures = [f"{names[i]} {cell_text(t, c)}" for i, c in enumerate(row) if isinstance(c, (int, float))]
        lines.append("• " + " · ".join(what) + (f" — {', '.join(figures)}" if figures else ""))
    return "\n".join(lines)


def report_text(t: Translator, period: Period, sections: list[Section]) -> str:
    head = t("stats.title", first=period.first.isoformat(), last=period.last.isoformat(), n=period.days)
    return "\n\n".join([head, *(section_text(t, s) for s in sections)])
