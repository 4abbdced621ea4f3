"""The ``django_bolt`` command line: ``python -m django_bolt init``.

python -m django_bolt init mysite [directory]   a new project, ready for runbolt
python -m django_bolt init                      add django_bolt to the project here
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .scaffold import InitError, add_to_project, new_project

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m django_bolt")
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser(
        "init",
        help="create a project ready for runbolt, or add django_bolt to an existing one",
        description=(
            "With a NAME: a new Django project (startproject) with django_bolt added. "
            "Without: adds django_bolt to the project in --project (default: here), "
            "without overwriting anything."
        ),
    )
    init.add_argument("name", nargs="?", help="the new project's name")
    init.add_argument("directory", nargs="?", help="where to create it (default: ./NAME)")
    init.add_argument(
        "--project", default=".", help="an existing project's directory (holding manage.py)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.name:
            root, report = new_project(args.name, Path(args.directory) if args.directory else None)
        else:
            root = Path(args.project).resolve()
            report = add_to_project(root)
    except InitError as exc:
        print(f"django_bolt init: {exc}", file=sys.stderr)
        return 2
    print(f"django_bolt init in {root}:")
    for line in report.lines:
        print(f"  {line}")
    if any(line.startswith("todo") for line in report.lines):
        print("Some steps need you: see the todo lines above.")
    print("Next: python manage.py migrate && python -m pytest && python manage.py runbolt")
    return 0
