"""What the image holds: every package pyproject.toml installs is copied into the build stage and not
kept out by the .dockerignore, and the wheel built from exactly those files holds every module, template,
stylesheet, script and migration, so `coproduce` (worker, web app, migration job) imports and finds its
pages in the image. No container engine here: the build context is assembled the way Docker would from
the Dockerfile's COPY lines and its .dockerignore, then built with pip as the Dockerfile does."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"  # BuildKit's per-Dockerfile ignore file
SOURCE = "/src"  # the build stage's WORKDIR, where `pip install /src` builds from


def installed_packages() -> list[str]:
    """The top-level packages pyproject.toml installs (``domain*`` names ``domain`` and its subpackages)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").split(".")[0] for pattern in patterns})


def build_stage_copies(dockerfile: str) -> list[tuple[str, str]]:
    """The build stage's ``COPY source... dest`` lines (not ``--from`` another stage): (source, dest)."""
    copies = []
    for line in dockerfile.splitlines():
        words = line.split()
        if not words or words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
            continue
        *sources, dest = [w for w in words[1:] if not w.startswith("--")]
        copies += [(source, dest) for source in sources]
    return copies


def missing_packages(dockerfile: str) -> list[str]:
    copied = {source.rstrip("/") for source, _ in build_stage_copies(dockerfile)}
    return [package for package in installed_packages() if package not in copied]


def _regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match, plus ``**`` for any number of folders)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


@cache
def _rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        rules.append((keep, _regex(line.removeprefix("!").strip().strip("/"))))
    return rules


def ignored(path: str) -> bool:
    """Whether Docker leaves ``path`` (relative to the context) out: the last rule matching it, or one
    of its folders, decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for keep, rule in _rules():
        if any(rule.fullmatch(candidate) for candidate in candidates):
            verdict = not keep
    return verdict


def package_files(package: str) -> list[str]:
    """Every file of a package in this checkout (no caches), relative to the repository."""
    return sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")
    )


def build_context(into: Path) -> Path:
    """The build stage's /src as Docker would fill it: the COPY sources, less what .dockerignore excludes."""
    src = into / "src"
    for source, dest in build_stage_copies(DOCKERFILE.read_text()):
        base = src / (Path(dest).relative_to(SOURCE) if dest.startswith("/") else dest)
        origin = ROOT / source
        if origin.is_file():  # into a folder (``./``, ``dir/``), or to a file of that name
            files = [(origin, base / origin.name if dest.endswith(("/", ".")) else base)]
        else:  # a folder's contents
            files = [(path, base / path.relative_to(origin)) for path in origin.rglob("*") if path.is_file()]
        for path, copy in files:
            if not ignored(str(path.relative_to(ROOT))):
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, copy)
    return src


def test_the_image_copies_every_package_pyproject_installs() -> None:
    packages = installed_packages()
    assert {"domain", "eventlog", "application", "coproduce"} <= set(packages)
    assert missing_packages(DOCKERFILE.read_text()) == [], "deploy/Dockerfile does not COPY these packages"
    # the check can fail: the Dockerfile as it was, without application/, which every entrance imports
    without = DOCKERFILE.read_text().replace("COPY application/ application/\n", "")
    assert missing_packages(without) == ["application"]


def test_the_dockerignore_keeps_every_package_file_in_the_build_context() -> None:
    kept_out = [
        path
        for package in installed_packages()
        for path in package_files(package)
        if ignored(path)
    ]  # fmt: skip
    assert kept_out == []
    assert not ignored("pyproject.toml") and not ignored("README.md")
    # the matcher can say no: what the ignore file is for stays out
    assert ignored("tests/conftest.py") and ignored(".venv/bin/python") and ignored("docs/deployment.md")
    assert ignored("domain/__pycache__/plan.cpython-311.pyc")


def test_the_wheel_built_from_the_image_sources_holds_every_module_page_and_migration(tmp_path: Path) -> None:
    src = build_context(tmp_path)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(src), "-w", str(tmp_path / "wheel")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "wheel").glob("coproduce-*.whl")
    listing = set(zipfile.ZipFile(wheel).namelist())
    expected = {path for package in installed_packages() for path in package_files(package)}
    assert sorted(expected - listing) == []
    for shown in (
        "coproduce/web/templates/sign_in.html", "coproduce/web/static/passkeys.js",
        "application/html/templates/report/votes.html", "application/html/static/coproduce.css",
        "application/identity/migrations/0001_identity.sql", "eventlog/migrations/0001_event_log.sql",
    ):  # fmt: skip
        assert shown in listing, shown

    # Installed alone (the repository's editable install not on the path), the command starts and the
    # web app's pages compile from the packaged templates.
    unpacked = tmp_path / "installed"
    zipfile.ZipFile(wheel).extractall(unpacked)
    templates = sorted(
        name.split("/templates/", 1)[1]
        for name in listing
        if "/templates/" in name and name.endswith(".html")
    )
    script = (
        "import sys, jinja2\n"
        "from application import html\n"
        "env = html.environment().overlay(loader=jinja2.ChoiceLoader([\n"
        "    jinja2.PackageLoader('coproduce.web', 'templates'), jinja2.PackageLoader('application.html', 'templates')]))\n"
        f"for name in {templates!r}: env.get_template(name)\n"
        "assert 'body' in html.stylesheet()\n"
        "import coproduce.web.app, coproduce\n"
        "assert coproduce.__file__.startswith(sys.argv[1]), coproduce.__file__\n"
        "sys.argv = ['coproduce', '--help']\n"
        "from coproduce.cli.app import main\n"
        "main()\n"
    )
    # -S: no site-packages processing, so no .pth file puts this checkout on the path; the
    # dependencies come from the virtual environment's site-packages, named explicitly.
    ran = subprocess.run(
        [sys.executable, "-S", "-P", "-c", script, str(unpacked)],
        env={"PYTHONPATH": f"{unpacked}:{sysconfig.get_path('purelib')}", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "web" in ran.stdout and "worker" in ran.stdout
