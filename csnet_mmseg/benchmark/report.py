"""Markdown tables and number formats of the measurement reports."""
from typing import Iterable, List, Optional, Sequence

__all__ = ['markdown_table', 'fmt_ms', 'fmt_ratio']


def markdown_table(head: Sequence[str],
                   rows: Iterable[Sequence[str]],
                   align: Optional[str] = None) -> List[str]:
    """The lines of a markdown table.

    Args:
        head (Sequence[str]): Column titles.
        rows (Iterable[Sequence[str]]): Cells (already formatted).
        align (str, optional): The separator line's cell (``'---'``
            default).

    Returns:
        list[str]: ``| a | b |``, ``|---|---|`` and one line per row.
    """
    sep = align or '---'
    lines = ['| ' + ' | '.join(head) + ' |', '|' + f'{sep}|' * len(head)]
    lines.extend('| ' + ' | '.join(str(c) for c in row) + ' |'
                 for row in rows)
    return lines


def fmt_ms(v: Optional[float]) -> str:
    """A latency in ms: one decimal from 10 ms, two below; ``n/a`` for
    None."""
    if v is None:
        return 'n/a'
    return f'{v:.1f}' if v >= 10 else f'{v:.2f}'


def fmt_ratio(v: Optional[float]) -> str:
    """``1.23x``; ``n/a`` for None."""
    return 'n/a' if v is None else f'{v:.2f}x'
