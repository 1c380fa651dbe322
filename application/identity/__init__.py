"""Who is signed in, and how we know: accounts, one-time sign-in links and codes, passkeys, sessions.

People without a password or, often, an email address take part: a facilitator invites them
(``invitations``), they sign in with a link from an email, a code from a printed card, or a passkey
(``passkeys``), and the web app keeps a server-side session for them (``sessions``). Everything is
stored in the schema ``identity`` (``store``), apart from the event log and the people register;
secrets are kept only as hashes.

How strong each way is: a link or a code proves control of a mailbox or a card (one factor); a
passkey with user verification proves a device and its lock (two). Each session records which, so
every input it sends says so in the log.
"""

from .actor import Actor, Channel

__all__ = ["Actor", "Channel"]
