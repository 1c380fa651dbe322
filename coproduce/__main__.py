"""``python -m coproduce`` runs the same command as the ``coproduce`` script."""

from .cli.app import main

main()
