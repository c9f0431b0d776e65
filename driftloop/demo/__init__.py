"""``driftloop demo``: the whole retraining loop on one machine (see :mod:`driftloop.demo.loop`)."""

from driftloop.demo.loop import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
