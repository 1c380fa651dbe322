"""The engagement workflow on Temporal, and the pure code that decides what each input does.

- ``engagement``: ``EngagementWorkflow``, one per engagement, and ``UPDATES`` (each input's typed update);
- ``messages``: its public contract: input, updates' inputs and results, status;
- ``commands``: from an update's input to the domain events it records (pure);
- ``conductor``: what happens by itself as time passes and inputs arrive (pure);
- ``status``: the status query's view of the folded state;
- ``contracts``: what the workflow sends its append activity and gets back;
- ``search``: the search attributes kept up to date for listing engagements.
"""
