"""``python -m driftloop`` is the ``driftloop`` command."""

from driftloop.cli import main

main()
