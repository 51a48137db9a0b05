"""``python -m tinyvae`` runs the command line, as the ``tinyvae`` script does."""
import sys

from .app.cli import main

sys.exit(main())
