"""The ``coproduce`` command: ``app`` registers every verb; ``*_commands`` modules hold them, ``common``
what they share (settings, services, errors in one sentence), ``render`` how results look on a terminal."""
