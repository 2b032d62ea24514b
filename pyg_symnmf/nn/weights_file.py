"""The pretrained weights file, read and written in one place: a JSON
object with the net's constructor arguments (``config``), its start's SpMMs
(``start_iterations``), its state dict (``state``, float32 lists), the
recipe that made it (``recipe``) and the SHA-256 of the first three
(``sha256``, :func:`weights_checksum`)."""
from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from torch import Tensor
import torch

if TYPE_CHECKING:  # the model imports this module
    from .model import SymNMFNet

__all__ = ['PRETRAINED_FILE', 'load_pretrained', 'write_weights',
           'weights_checksum']

#: The pretrained blocks shipped in the package (see
#: :mod:`pyg_symnmf.pretrain`).
PRETRAINED_FILE = 'pretrained.json'


def load_pretrained() -> tuple[dict, int, dict[str, Tensor]]:
    """The shipped pretrained net: its constructor arguments, its start's
    SpMMs and its state dict, checked against the file's SHA-256 of all
    three (:func:`weights_checksum`): an edited configuration is refused
    like edited parameters."""
    text = resources.files('pyg_symnmf').joinpath('weights').joinpath(
        PRETRAINED_FILE).read_text()
    payload = json.loads(text)
    state = {name: torch.tensor(value, dtype=torch.float32)
             for name, value in payload['state'].items()}
    if weights_checksum(payload['config'], payload['start_iterations'],
                        state) != payload['sha256']:
        raise RuntimeError(f"The pretrained weights file {PRETRAINED_FILE} "
                           f"is corrupted (checksum mismatch); reinstall "
                           f"pyg_symnmf")
    return payload['config'], payload['start_iterations'], state


def write_weights(net: 'SymNMFNet', path: Path, recipe: dict) -> str:
    """Writes the k-agnostic net (constructor arguments, start, state,
    SHA-256) as :func:`load_pretrained` reads it; returns the checksum."""
    state = {name: value.detach().float()
             for name, value in net.state_dict().items()}
    block = net.blocks[0]
    config = {'k': None, 'num_layers': net.num_layers,
              'weight': 'equivariant', 'momentum': True,
              'alpha': block.alpha_init, 'alpha_min': block.alpha_min}
    checksum = weights_checksum(config, net.start_iterations, state)
    payload = {
        'config': config,
        'start_iterations': net.start_iterations,
        'sha256': checksum,
        'recipe': recipe,
        'state': {name: value.tolist() for name, value in state.items()},
    }
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + '\n')
    return checksum


def weights_checksum(config: dict, start_iterations: int,
                     state: dict[str, Tensor]) -> str:
    """SHA-256 of a weights file's content: the configuration (canonical
    JSON), the start's SpMMs, and the state dict's names and float32
    values in name order."""
    digest = hashlib.sha256()
    digest.update(json.dumps(config, sort_keys=True).encode())
    digest.update(str(int(start_iterations)).encode())
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()
