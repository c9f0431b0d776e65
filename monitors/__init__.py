"""Drift monitors built on Evidently: monitor definitions, reference profiles, fast drift checks.

The workflow steps and the CLI use this API::

    from monitors import MonitorDefinition, build_profile, run_check, ReferenceProfile

    profile = build_profile(train_df, MonitorDefinition(model="credit"), model_version="3")
    blob = profile.to_bytes()                      # stored next to the model version
    result = run_check(ReferenceProfile.from_bytes(blob), window_df)
    event = result.to_event()                      # a driftloop.events.CloudEvent
    # the same check plus multivariate / segment drift, and performance when the model's is known
    result = run_monitor(profile, window_df, performance=PerformanceContext(...), labels=labels_df)

Importing this package is cheap: pandas and Evidently are imported only by the code paths that need them.
"""

from driftloop.monitorspec import ColumnSpec, MonitorDefinition
from monitors.check import CheckResult, ColumnResult, WindowInfo, run_check
from monitors.profile import ColumnProfile, ReferenceProfile, build_profile
from monitors.quality import QualityProblem
from monitors.signals import PerformanceContext, run_monitor

__all__ = [
    "CheckResult",
    "ColumnProfile",
    "ColumnResult",
    "ColumnSpec",
    "MonitorDefinition",
    "PerformanceContext",
    "QualityProblem",
    "ReferenceProfile",
    "WindowInfo",
    "build_profile",
    "run_check",
    "run_monitor",
]
