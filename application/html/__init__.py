"""HTML rendering shared by the auditor's report and the web app: Jinja2 templates and one stylesheet.

``environment()`` is the one Jinja2 environment, loading ``templates/`` from this package, escaping
every value in an ``.html`` template (reasons and notes are what people wrote) and refusing names a
template does not get (``StrictUndefined``). ``stylesheet()`` is the text of ``static/coproduce.css``:
the report inlines it (``base.html`` does), because the report must stand alone in an offline evidence
bundle; a web page may link the same file instead, by overriding the ``stylesheet`` block.

Templates take plain values (text, numbers, dates, coordinates) and never HTML made in Python.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from importlib.resources import files

import jinja2


@cache
def stylesheet() -> str:
    """The house stylesheet: small, our own, nothing fetched from elsewhere."""
    return files(__name__).joinpath("static", "coproduce.css").read_text(encoding="utf-8")


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of every page (cached: templates compile once per process)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__name__, "templates"),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["stylesheet"] = stylesheet
    env.filters["day"] = day
    env.filters["money"] = money
    env.filters["duration"] = duration
    return env


def day(moment: datetime | date | None) -> str:
    """A date in words, as people write it: "Tuesday 3 March 2027" (UTC)."""
    if moment is None:
        return "no date"
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def money(pence: int) -> str:
    """Whole pence as pounds: "£12.50"."""
    return f"£{pence // 100:,}.{pence % 100:02d}"


def duration(minutes: int) -> str:
    """Minutes in words: "3 hours 20 minutes"."""
    hours, rest = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if rest or not hours:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


def render(template: str, /, **context: object) -> str:
    """``template`` (a path under ``templates/``) rendered with ``context``."""
    return environment().get_template(template).render(**context)
