"""The auditor's library: the record read from the log alone, checked, and exported as evidence.

It needs no terminal and no Temporal (but for ``live``), and raises the application's own errors.

- ``history``: an engagement's events, its state on any date, its decision timeline;
- ``disclosure``: what a reader may see of personal text, and how forgotten people are shown;
- ``live``: the log compared with the engagement's workflow in Temporal, when reachable;
- ``bundle``: evidence bundles written for, and checked by, auditors with no database;
- ``report``: the HTML report people read;
- ``replay``: every engagement's timeline in one streaming pass over the whole log.

The checkpoint signing key is a setting of the installation: ``workers.keys.checkpoint_signer``.
"""
