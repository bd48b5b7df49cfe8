"""Request bodies: strict UTF-8 JSON, with the limits every API and control call shares.

Used by the application (:mod:`.app`) for API calls and by the control endpoints
(:mod:`.control`); it sits below both so that neither imports the other for it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from airflow_provider_altcraft.sandbox.values import ApiError

__all__ = ["MAX_JSON_DEPTH", "BadBody", "parse_json_body"]

MAX_JSON_DEPTH = 100  # levels of arrays and objects in a request body

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays/objects nest more than ``limit`` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BadBody(ApiError):
    """A body that is not a UTF-8 JSON object: a malformed request, answered with HTTP 400
    whatever ``app_error_http_status`` says (it is not an application error)."""

    def __init__(self, text: str) -> None:
        super().__init__(400, text)


def parse_json_body(raw: bytes) -> Any:
    """Decode a request body: strict UTF-8, then JSON; an empty body is ``{}``.

    Raises :class:`BadBody` for bytes that are not UTF-8, malformed JSON, JSON nested more than
    :data:`MAX_JSON_DEPTH` levels (the parser itself raises ``RecursionError`` at about 1000, e.g.
    for 100000 ``[``) and JSON holding unpaired surrogate escapes.
    """
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("Request body is not valid UTF-8") from None
    try:
        body = json.loads(text)
    except RecursionError:
        raise BadBody("JSON in request body is nested too deeply") from None
    except ValueError:
        raise BadBody("Malformed JSON in request body") from None
    # Deeper than the parser allows (above), or deep enough that the answers, the ledger dump or
    # the state file, which wrap the value in a few more levels, would hit the recursion limit.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _deeper_than(body, MAX_JSON_DEPTH):
        raise BadBody("JSON in request body is nested too deeply")
    # "\ud800" escapes decode to lone surrogates: strings no UTF-8 answer, log or file can hold.
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadBody("JSON in request body holds an unpaired UTF-16 surrogate") from None
    return body
