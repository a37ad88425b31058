from .semantic_fusion import SemanticFusionNeck

__all__ = ['SemanticFusionNeck']
