"""The secret keys of a test session, shared by every process a test starts.

``tests/conftest.py`` puts a fresh master key, payload key and writer key in the environment at the
start of a session. Tests that give a subprocess a clean environment (no ``COPRODUCE_*`` settings) keep these, as
every process of one installation shares its keys.
"""

SESSION_KEYS = frozenset({"COPRODUCE_MASTER_KEY", "COPRODUCE_PAYLOAD_KEYS", "COPRODUCE_WRITER_KEY"})
