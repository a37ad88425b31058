from .finest_fpn import FinestFPN
from .semantic_fusion import SemanticFusionNeck

__all__ = ['FinestFPN', 'SemanticFusionNeck']
