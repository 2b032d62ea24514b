from .conv import SymNMFNetConv
from .model import SymNMFNet
from .pool import SymNMFPooling

__all__ = ['SymNMFNetConv', 'SymNMFNet', 'SymNMFPooling']
