"""The one figure helper of mfcheck: matplotlib on the Agg backend, figures saved reproducibly."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig, path: Path) -> None:
    """Save without a software stamp, so that a regenerated report is byte-identical; close the figure."""
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
