from .conv import SymNMFNetConv
from .model import SymNMFNet

__all__ = ['SymNMFNetConv', 'SymNMFNet']
