"""Where estimators registered before ``monitors.performance`` existed find their classes.

A registered performance estimator is a joblib pickle, which names its classes by module path; those
written before the estimator moved to :mod:`monitors.performance.estimator` name this module. Nothing
else imports it.
"""

from monitors.performance.dle import Encoder as _Encoder
from monitors.performance.estimator import PerformanceEstimator

__all__ = ["PerformanceEstimator", "_Encoder"]
