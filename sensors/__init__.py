"""driftloop sensors component."""
