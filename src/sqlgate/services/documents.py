"""Documents users deploy as text (semantic models, access policies): how their text is read
and how their format is stored."""

from __future__ import annotations

from typing import Literal

from sqlgate.errors import ValidationError

Format = Literal["yaml", "json"]

#: The most problems one 422 lists (the message counts the rest).
MAX_PROBLEMS = 50


def decode_document(text: str | bytes, what: str) -> str:
    """``text`` as a string: UTF-8 without a byte-order mark, no NUL, not blank. ``what`` names
    the document in the 422 ("The access policy is empty")."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(f"{what} is not UTF-8 text", path="") from None
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise ValidationError(f"{what} may not contain NUL characters", path="")
    if not text.strip():
        raise ValidationError(f"{what} is empty", path="")
    return text


def stored_format(value: str) -> Format:
    """The format of a stored version's source."""
    return "json" if value == "json" else "yaml"


def invalid_document(what: str, problems: list[tuple[str, str]]) -> ValidationError:
    """The 422 for a document with ``problems`` (path, message): the first in the message, up
    to :data:`MAX_PROBLEMS` in ``errors``. ``what``: "semantic model", "access policy"."""
    path, message = problems[0]
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    where = f"{path}: " if path else ""
    return ValidationError(
        f"Invalid {what}: {where}{message}{more}",
        path=path,
        errors=[{"path": p, "message": m} for p, m in problems[:MAX_PROBLEMS]],
    )
