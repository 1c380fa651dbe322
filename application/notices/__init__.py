"""Notices: telling people what the engagement needs from them, by email, digest or by hand.

``outbox`` turns the log's events into notices (who should hear what), ``delivery`` sends them and
records whether the mail server took them, ``messages`` says what they say, ``register`` keeps each
person's preference and answers the facilitator's questions (what was sent, who to tell by hand).
"""
