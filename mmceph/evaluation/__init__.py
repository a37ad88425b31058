from .clinical import (MEASUREMENT_LINES, MEASUREMENTS, analyse, classify, confusion_matrix,
                       measure, success_rate)
from .metrics import CephalometricMetric

__all__ = ['CephalometricMetric', 'MEASUREMENTS', 'MEASUREMENT_LINES', 'measure', 'classify',
           'analyse', 'success_rate', 'confusion_matrix']
