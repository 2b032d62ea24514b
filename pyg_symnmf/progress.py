r"""Progress bars for the long loops (training epochs, solver iterations,
the scan over :math:`k`, pretraining): tqdm's, shown only with
``verbose``, and only once a loop has run for :obj:`DELAY` seconds, so
that quick jobs print nothing. Without tqdm installed, nothing is shown."""
from __future__ import annotations

from typing import Any, Iterable, Optional

__all__ = ['DELAY', 'progress', 'show_loss']

#: Seconds a loop runs before its bar appears.
DELAY = 2.0


def progress(iterable: Iterable, desc: str, enabled: bool,
             total: Optional[int] = None) -> Iterable:
    """``iterable``, wrapped in a tqdm bar when ``enabled`` and tqdm is
    installed."""
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return iterable
        return tqdm(iterable, desc=desc, total=total, delay=DELAY,
                    leave=False)
    return iterable


def show_loss(bar: Any, loss: float) -> None:
    """Shows the current loss beside a bar made by :func:`progress`."""
    if hasattr(bar, 'set_postfix'):
        bar.set_postfix(loss=f'{loss:.6g}', refresh=False)
