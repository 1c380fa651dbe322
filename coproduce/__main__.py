"""``python -m coproduce`` runs the same command as the ``coproduce`` script."""

from .cli import main

main()
