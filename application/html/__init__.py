"""HTML rendering shared by the auditor's report and the web app: Jinja2 templates and one stylesheet.

``environment()`` is the one Jinja2 environment, loading ``templates/`` from this package, escaping
every value in an ``.html`` template (reasons and notes are what people wrote) and refusing names a
template does not get (``StrictUndefined``). ``stylesheet()`` is the text of ``static/coproduce.css``:
the report inlines it (``base.html`` does), because the report must stand alone in an offline evidence
bundle; a web page may link the same file instead, by overriding the ``stylesheet`` block.

Templates take plain values (text, numbers, dates, coordinates) and never HTML made in Python.
"""

from __future__ import annotations

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
    return env


def render(template: str, /, **context: object) -> str:
    """``template`` (a path under ``templates/``) rendered with ``context``."""
    return environment().get_template(template).render(**context)
