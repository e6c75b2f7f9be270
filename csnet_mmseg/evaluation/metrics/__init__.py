from .sod_metric import SODMetric, saliency_from_logits

__all__ = ['SODMetric', 'saliency_from_logits']
