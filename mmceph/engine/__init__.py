from . import safe_checkpoint
from .atomic_backend import AtomicLocalBackend
from .hooks import BestCheckpointAliasHook

__all__ = ['AtomicLocalBackend', 'BestCheckpointAliasHook', 'safe_checkpoint']
