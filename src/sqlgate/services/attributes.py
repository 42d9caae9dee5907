"""Attributes of organizations and members: typed values that access policies reference.

A value is a string, an integer, a float or a boolean, and keeps its type (``42`` is not
``"42"``). Names are identifiers, so a policy can name them. They are set by the operator
(organizations) and by an organization's admins (members), never read from a request's headers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from sqlgate.errors import ValidationError

AttributeValue = str | int | float | bool
Attributes = dict[str, AttributeValue]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
MAX_ATTRIBUTES = 100
MAX_STRING = 1000
#: Integers a 64-bit column can hold, so a policy comparing them never overflows.
_INT_RANGE = (-(2**63), 2**63 - 1)


def check_value(name: str, value: Any, *, field: str = "attributes") -> AttributeValue:
    """``value`` if it is a valid attribute value, else a 422 naming the attribute."""
    where = f"{field}.{name}"
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise ValidationError(f"{where}: integers must fit in 64 bits", field=where)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{where}: numbers must be finite", field=where)
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING or "\x00" in value:
            raise ValidationError(
                f"{where}: strings are at most {MAX_STRING} characters, without NUL", field=where
            )
        return value
    raise ValidationError(
        f"{where}: a value must be a string, an integer, a number or a boolean "
        f"(not {_json_type(value)})",
        field=where,
    )


def check_name(name: Any, *, field: str = "attributes") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            f"{field}: {name!r} is not a valid attribute name (a letter or _, then letters, "
            "digits or _, at most 64)",
            field=field,
        )
    return name


def validated(attributes: Mapping[str, Any], *, field: str = "attributes") -> Attributes:
    """A whole set of attributes, checked (names, values, how many)."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValidationError(f"{field}: at most {MAX_ATTRIBUTES} attributes", field=field)
    return {
        check_name(k, field=field): check_value(k, v, field=field) for k, v in attributes.items()
    }


def merged(current: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> Attributes:
    """``current`` with ``patch`` applied as a JSON merge patch: a ``null`` removes the
    attribute, any other value sets it."""
    result: dict[str, Any] = dict(current or {})
    for name, value in patch.items():
        check_name(name)
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return validated(result)


def parse_assignment(text: str) -> tuple[str, AttributeValue]:
    """``KEY=VALUE`` from a command line. The value is read as a JSON scalar when it is one
    (``42`` an integer, ``4.2`` a float, ``true`` a boolean, ``"42"`` the string 42), and as
    a plain string otherwise (``eu``)."""
    name, sep, raw = text.partition("=")
    if not sep:
        raise ValidationError(f"{text!r}: expected KEY=VALUE", field="attributes")
    check_name(name.strip())
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    if value is None or isinstance(value, list | dict):
        raise ValidationError(
            f"{name}: {raw!r} is JSON {_json_type(value)}; quote it to store it as a string "
            f"(KEY='\"{raw}\"')",
            field=f"attributes.{name}",
        )
    return name.strip(), check_value(name.strip(), value)


def type_name(value: AttributeValue) -> str:
    """How a value's type is shown: string, int, float or bool."""
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float"}.get(type(value), "string")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
