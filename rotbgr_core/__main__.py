"""``python -m rotbgr_core`` runs the command line."""

import sys

from rotbgr_core.cli import main

sys.exit(main())
