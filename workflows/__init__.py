"""driftloop workflows component."""
