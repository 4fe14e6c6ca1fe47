"""``python -m rotbgr_core`` runs the command line."""

from rotbgr_core.cli import console_main

console_main()
