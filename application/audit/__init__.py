"""The auditor's side: the record read from the log alone, checked, and exported as evidence.

- ``history``: an engagement's events, its state on any date, its decision timeline;
- ``live``: the log compared with the engagement's workflow in Temporal, when reachable;
- ``bundle``: evidence bundles written for, and checked by, auditors with no database;
- ``report``: the HTML report people read;
- ``keys``: the checkpoint signing key and the public key auditors hold;
- ``replay``: every engagement's timeline in one streaming pass over the whole log.
"""
