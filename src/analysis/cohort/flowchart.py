"""CONSORT-style flow diagram of an attrition table, drawn with matplotlib."""

from __future__ import annotations

import pandas as pd

_TEXT = {
    "ja": {"remaining": "対象", "excluded": "除外", "title": "対象者の選定"},
    "en": {"remaining": "Remaining", "excluded": "Excluded", "title": "Cohort selection"},
}


def _count(value, min_cell_count: int | None) -> str:
    if pd.isna(value):
        return f"<{min_cell_count}"
    return f"{int(value):,}"


def draw_flow(df: pd.DataFrame, ax=None, lang: str = "ja", min_cell_count: int | None = None):
    """Draw boxes for the people remaining (left column) and excluded at each step (right).

    Parameters
    ----------
    df : pandas.DataFrame
        ``Attrition.to_frame(lang)`` (or ``published``): ``description, remaining, excluded``.
    ax : matplotlib.axes.Axes, optional
    lang : {"ja", "en"}
    min_cell_count : int, optional
        The suppression threshold used for NA counts (shown as ``<n``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if lang == "ja":
        import matplotlib_fontja  # noqa: F401  (registers IPAexGothic)
    words = _TEXT[lang]
    n = len(df)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 1.1 * n + 0.6))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, n - 0.3)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "0.2"}
    side = {"boxstyle": "round,pad=0.4", "facecolor": "0.95", "edgecolor": "0.5"}
    arrow = {"arrowstyle": "-|>", "color": "0.2"}
    x_main, x_side = 0.27, 0.74
    for i, row in enumerate(df.itertuples(index=False)):
        y = n - 1 - i
        count = _count(row.remaining, min_cell_count)
        if i == 0:
            text = f"{row.description}\nn = {count}"
        else:
            text = f"{words['remaining']} n = {count}"
            y_prev = y + 1
            ax.annotate("", xy=(x_main, y + 0.22), xytext=(x_main, y_prev - 0.22), arrowprops=arrow)
            ax.annotate("", xy=(x_side - 0.2, y + 0.5), xytext=(x_main, y + 0.5), arrowprops=arrow)
            excl = _count(row.excluded, min_cell_count)
            ax.text(
                x_side,
                y + 0.5,
                f"{row.description}\n{words['excluded']} n = {excl}",
                ha="center",
                va="center",
                fontsize=8,
                bbox=side,
                wrap=True,
            )
        ax.text(x_main, y, text, ha="center", va="center", fontsize=9, bbox=box)
    ax.set_title(words["title"], fontsize=10)
    return ax
