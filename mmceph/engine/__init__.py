from . import safe_checkpoint
from .hooks import BestCheckpointAliasHook

__all__ = ['BestCheckpointAliasHook', 'safe_checkpoint']
