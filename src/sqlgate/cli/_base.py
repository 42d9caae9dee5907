"""What every command shares: the parser's error rule, settings and services, the organization a
command acts on, and output (a human table by default, JSON with ``--json``).

Building the parser imports this module and every command module, so they import at the top
only what the parser needs (the standard library, errors, scopes); what a command uses (the
services, the store, pydantic, YAML, ...) is imported in the function that uses it, so
``sqlgate --help`` and each command load only their own (``tests/test_cli_startup.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from sqlgate.auth.scopes import Scope
from sqlgate.errors import NotFound, SqlgateError, ValidationError

if TYPE_CHECKING:
    from sqlgate.auth.principal import Principal
    from sqlgate.container import Services
    from sqlgate.settings import Settings

Command = Callable[[argparse.Namespace], int]
#: ``add_parser`` of a group of subcommands.
Adder = Callable[..., argparse.ArgumentParser]


class UsageError(Exception):
    """The command line itself is wrong (exit status 2), found after parsing."""


class CliParser(argparse.ArgumentParser):
    """argparse with the CLI's error rule: one ``error: ...`` line on stderr, exit status 2
    (argparse prints the usage too; ``--help`` shows it on request)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def command(
    adder: Adder, name: str, func: Command, help: str, *, common: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    """A subcommand taking ``--data-dir`` and ``--json``, run by ``func``."""
    parser = adder(name, parents=[common], help=help, description=help)
    parser.add_argument("--json", action="store_true", help="Print JSON")
    parser.set_defaults(func=func)
    return parser


def with_org(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--org", help="Organization id or slug (needed when there are several organizations)"
    )
    return parser


def scopes(text: str) -> set[Scope]:
    """``--scopes`` as a set of scopes; an unknown one is a usage error naming the valid ones."""
    wanted = {s.strip() for s in text.split(",") if s.strip()}
    known = {s.value for s in Scope}
    unknown = sorted(wanted - known)
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(
            f"unknown scope {', '.join(unknown) or repr(text)}; valid scopes: "
            + ", ".join(sorted(known))
        )
    return {Scope(s) for s in wanted}


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


# --- settings, services, organization ----------------------------------------------------------


def settings(args: argparse.Namespace) -> Settings:
    import pydantic

    from sqlgate.settings import Settings

    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    for name in ("host", "port", "tls_cert", "tls_key"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    if getattr(args, "tls_self_signed", False):
        overrides["tls_self_signed"] = True
    if getattr(args, "no_access_log", False):
        overrides["access_log"] = False
    try:
        return Settings(**overrides)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise SqlgateError(
            f"invalid settings (options or SQLGATE_* variables): {problems}"
        ) from None


@contextmanager
def services(args: argparse.Namespace) -> Iterator[Services]:
    from sqlgate.container import Services

    built = Services.build(settings(args))
    try:
        yield built
    finally:
        built.close()


def org_id(built: Services, given: str | None) -> str:
    """The organization a command acts on: ``--org`` (id or slug), else the only one. With
    several and no ``--org``, a usage error naming their slugs."""
    from sqlalchemy import select

    from sqlgate.store.models import PLATFORM_ORG_ID, Organization

    with built.store.session() as session:
        found = session.execute(
            select(Organization.id, Organization.slug)
            .where(Organization.id != PLATFORM_ORG_ID)
            .order_by(Organization.created_at)
        ).all()
    slugs = ", ".join(slug for _, slug in found)
    if given:
        for id_, slug in found:
            if given in (id_, slug):
                return str(id_)
        raise NotFound(f"Organization {given!r} not found; organizations: {slugs or 'none'}")
    if not found:
        raise SqlgateError("No organization yet: run `sqlgate init` first")
    if len(found) > 1:
        raise UsageError(f"several organizations ({slugs}): name one with --org SLUG")
    return str(found[0][0])


def acting_org(built: Services, args: argparse.Namespace) -> str:
    """The organization a command acts on, or with ``--shared`` the platform organization
    that holds the operator's shared connections (see :func:`shared_option`)."""
    from sqlgate.store.models import PLATFORM_ORG_ID

    if getattr(args, "shared", False):
        if getattr(args, "org", None):
            raise UsageError("--shared connections belong to no organization: drop --org")
        return PLATFORM_ORG_ID
    return org_id(built, getattr(args, "org", None))


def shared_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--shared", action="store_true", help=help)


@contextmanager
def as_operator(args: argparse.Namespace) -> Iterator[tuple[Services, Principal]]:
    """The services, and the organization's operator (its longest-standing owner) as whom the
    command acts; ``--org`` as every other command takes it."""
    from sqlgate.services import orgs

    with services(args) as built:
        yield built, orgs.operator(built.store, org_id(built, args.org))


def read_mapping(file: str, what: str) -> dict[str, Any]:
    """A document kept as a file (``.json``, else YAML) that must hold one mapping: ``what``
    names it in the errors ("dashboard", "workflow")."""
    import yaml

    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
        body = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except OSError as exc:
        raise SqlgateError(f"Cannot read {str(path)!r}: {exc.strerror}") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise SqlgateError(f"{path.name} is not valid YAML or JSON: {exc}") from None
    if not isinstance(body, dict):
        raise SqlgateError(f"{path.name} must hold one {what} (a mapping)")
    return body


def read_document(file: str) -> tuple[bytes, Literal["yaml", "json"] | None]:
    """A document to deploy as it is on disk (the service decodes and checks it), and its format
    by the file's suffix (None: the service tells by the text)."""
    path = Path(file)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise SqlgateError(f"Cannot read {str(path)!r}: {exc.strerror}") from None
    suffix = path.suffix.lower()
    return text, "yaml" if suffix in (".yaml", ".yml") else "json" if suffix == ".json" else None


@contextmanager
def every_problem() -> Iterator[None]:
    """A deploy's 422 as one error line naming every problem (the API lists them)."""
    try:
        yield
    except ValidationError as exc:
        problems = [f"{p['path']}: {p['message']}" for p in exc.details.get("errors", [])[1:]]
        raise SqlgateError("; ".join([exc.message, *problems])) from None


# --- output ------------------------------------------------------------------------------------


def print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str))


#: The widest a table cell is shown; longer values end in "…" (use --json for all of it).
CELL_WIDTH = 60


def cell(value: Any, null: str = "") -> str:
    if value is None:
        return null
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, null: str = "") -> int:
    """A human table: a header, a rule, one line per row (numbers right-aligned). Returns the
    number of rows printed."""
    raw = [list(r) for r in rows]
    cells = [[cell(v, null) for v in r] for r in raw]
    heads = [cell(h) for h in headers]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(heads)]
    right = [
        bool(raw) and all(_numeric(r[i]) or r[i] is None for r in raw) for i in range(len(heads))
    ]
    out = sys.stdout

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out.write(line(heads) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in cells:
        out.write(line(r) + "\n")
    return len(cells)


def say(message: str) -> None:
    """A note for the person at the terminal (stderr, so stdout stays the data)."""
    print(message, file=sys.stderr)
