"""The progress bar of a reference solver's time steps (off by default: library calls stay quiet).

The bar only counts steps; it reads nothing the solver computes, so the numbers do not depend on it.
It advances every ``stride`` steps (about a hundred updates per solve, never one per stage), in the
style of the sweep bars (:func:`mfcheck.runtime.executors.map_cells`): ``tqdm.auto`` on stderr,
``leave=False``.
"""

from __future__ import annotations

from tqdm.auto import tqdm

UPDATES = 100
"""About how many times a solve advances its bar."""


class StepBar:
    """A bar over ``total`` solver steps labelled ``desc``; ``enabled`` False: nothing is shown.

    Call :meth:`done` after each step k (0-based); use it as a context manager, which fills the bar
    when the solve finishes and closes it in any case.
    """

    def __init__(self, total: int, desc: str, enabled: bool):
        self.total = int(total)
        self.stride = max(1, self.total // UPDATES)
        self.bar = tqdm(total=self.total, desc=desc, unit="step", disable=not enabled, leave=False)

    def done(self, k: int) -> None:
        """Step ``k`` is finished."""
        if (k + 1) % self.stride == 0:
            self.bar.update(self.stride)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None and self.bar.n < self.total:
            self.bar.update(self.total - self.bar.n)
        self.bar.close()
