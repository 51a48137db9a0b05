"""``python -m tinyvae`` runs the command line, as the ``tinyvae`` script does."""
import sys

from .cli import main

sys.exit(main())
