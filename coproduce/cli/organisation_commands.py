"""``coproduce organisations ...``: the client organisations in the log, and database logins limited to one.

- ``list``: each organisation's id, its engagements and the logins limited to it;
- ``grant-login ORG LOGIN``: let the database login LOGIN read ORG's engagements, and nothing else, in
  psql (row-level security; see docs/audit.md, "With psql");
- ``revoke-login ORG LOGIN``: stop it.

They need an administrator's database URL (the one ``coproduce db migrate`` uses).
"""

from __future__ import annotations

import typer

from application import organisations as orgs

from .common import Commands, JsonOption, out, print_json, run, services

organisations_app = typer.Typer(
    cls=Commands,
    help="Client organisations: their engagements, and database logins limited to one of them.",
    no_args_is_help=True,
)


@organisations_app.command("list")
def list_organisations(as_json: bool = JsonOption) -> None:
    """Each organisation's id, its engagements, and the database logins limited to it."""
    url = services().database_url()
    rows = run(lambda: orgs.organisations(url))
    if as_json:
        print_json([row.as_json() for row in rows])
        return
    if not rows:
        out.print("no engagement has started yet, so there is no organisation")
    for row in rows:
        logins = ", ".join(row.logins) or "none"
        out.print(
            f"{row.id} ({'; '.join(row.names)}): {len(row.engagements)} engagement(s); logins: {logins}"
        )
        for engagement in row.engagements:
            out.print(f"  {engagement}")


@organisations_app.command("grant-login")
def grant_login(
    organisation: str = typer.Argument(
        ..., help="The organisation's id (see `coproduce organisations list`)."
    ),
    login: str = typer.Argument(
        ..., help="A database login of its own (CREATE ROLE name LOGIN PASSWORD '...')."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Let LOGIN read ORGANISATION's engagements in psql, and no other organisation's: every view it
    can read shows that organisation's rows only."""
    url = services().database_url()
    row = run(lambda: orgs.grant_login(url, organisation, login))
    if as_json:
        print_json(row.as_json())
        return
    out.print(f"{login} now reads {organisation}'s {len(row.engagements)} engagement(s) and nothing else")


@organisations_app.command("revoke-login")
def revoke_login(
    organisation: str = typer.Argument(..., help="The organisation's id."),
    login: str = typer.Argument(..., help="The database login."),
    as_json: bool = JsonOption,
) -> None:
    """Stop LOGIN reading ORGANISATION's engagements (at its next query)."""
    url = services().database_url()
    revoked = run(lambda: orgs.revoke_login(url, organisation, login))
    if as_json:
        print_json({"organisation": organisation, "login": login, "revoked": revoked})
        return
    out.print(
        f"{login} no longer reads {organisation}'s engagements"
        if revoked
        else f"{login} could not read {organisation}'s engagements; nothing changed"
    )
