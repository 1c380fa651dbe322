"""The privacy service: personal data kept out of the log and out of Temporal.

- ``register``: the people register (names, data keys) and forgetting a person's key;
- ``sealing``: sealing personal text under its owner's key, and opening it for a reader;
- ``records``: the events as the log stores them, sealed, for every writer of the log.
"""
