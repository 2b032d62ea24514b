r"""The one training loop of SymNMF-Net, shared by the estimator and the
distributed model: Adam with cosine decay on an unsupervised loss, keeping
the parameters with the lowest loss seen."""
from __future__ import annotations

import copy
from typing import Callable, Optional

import torch
from torch import Tensor

from .progress import progress, show_loss

__all__ = ['train']


def train(module: torch.nn.Module, loss_fn: Callable[[], Tensor], *,
          epochs: int, lr: float,
          after_backward: Optional[Callable[[], None]] = None,
          global_value: Callable[[Tensor], float] = float,
          verbose: bool = False, desc: str = 'SymNMF-Net') -> list[float]:
    r"""Trains ``module``'s parameters to minimise ``loss_fn()``.

    Args:
        module (torch.nn.Module): Holds every trainable parameter.
        loss_fn (callable): Computes the (normalised) loss to minimise.
        epochs (int): Full-graph steps.
        lr (float): Adam's learning rate, decayed by a cosine schedule.
        after_backward (callable, optional): Called between the backward
            pass and the step (the distributed model all-reduces
            gradients there).
        global_value (callable): Turns the loss into the float that selects
            the best parameters (the distributed model sums ranks' shares).
        verbose (bool): Show a progress bar (tqdm, after 2 s).

    Returns:
        The loss of each epoch, at the parameters it was computed with. The
        module ends with the best of them, in the mode it started in.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    if not params or epochs == 0:
        return []
    optimizer = torch.optim.Adam(params, lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    steps = progress(range(epochs), desc, verbose)
    was_training = module.training
    module.train()
    curve: list[float] = []
    best, best_state = float('inf'), None
    for _ in steps:
        loss = loss_fn()
        value = global_value(loss.detach())
        curve.append(value)
        show_loss(steps, value)
        if value < best:  # the loss of the parameters used now
            best, best_state = value, copy.deepcopy(module.state_dict())
        optimizer.zero_grad()
        # A safeguarded run that takes no step has a loss no parameter
        # shaped: nothing to learn from this epoch.
        if loss.requires_grad:
            loss.backward()
            if after_backward is not None:
                after_backward()
            optimizer.step()
        schedule.step()
    if best_state is None:
        raise FloatingPointError("Training never produced a finite loss; "
                                 "check the graph and the start")
    module.load_state_dict(best_state)
    module.train(was_training)
    return curve
