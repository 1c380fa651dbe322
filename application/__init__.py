"""The application layer: what every entrance (the command line, the web app, scripts) calls.

Use cases, as plain async functions taking ``Services``, the ``Actor`` who asks and a typed request:

- ``engagements``: start, list, status, submit an input, amend the plan;
- ``people``: who takes part, forgetting someone;
- ``auditing``: timeline, state on a date, verify, checkpoint, export an evidence bundle.

Beneath them: ``audit/`` (the auditor's library: replay, verification against the live workflow,
evidence bundles, the HTML report), ``privacy/`` (the people register, sealing personal text, the
events as the log stores them), ``simulation`` (scripted people for rehearsals), ``errors`` (one
sentence for each mistake), ``services``, ``identity`` and ``requests``.

It imports the workflow's messages and typed references, the domain and the event log; never a
terminal or web framework (enforced by the import-linter contracts in ``pyproject.toml``).
"""
