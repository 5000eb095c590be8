"""Turn pydantic's validation errors into ``(field, message)`` issues a person can act on.

Fields are dotted paths as written in the campaign file (``workflow[2].min``): the tags pydantic
inserts for discriminated unions are dropped. Where the allowed values are known (a literal, an
enum, a union tag, the keys of a section) the message ends with ``(allowed: ...)``.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from voltlab.orchestrator.campaign.steps import STEP_KINDS
from voltlab.planners import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    SimplexGroup,
)

Issue = tuple[str, str]
"""``(dotted field path, message)``."""

UNION_TAGS: dict[str, tuple[str, ...]] = {
    "step": STEP_KINDS,
    "kind": tuple(
        str(cls.model_fields["kind"].default)
        for cls in (ContinuousParameter, IntegerParameter, CategoricalParameter, SimplexGroup)
    ),
}
"""Discriminator key -> its tags, for the campaign's discriminated unions."""
_TAG_VALUES = {tag for tags in UNION_TAGS.values() for tag in tags}
_CHOICE_TYPES = ("literal_error", "enum")


class CampaignProblems(ValueError):
    """Several problems at once, each with its field relative to where the error was raised."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in issues))
        self.issues = list(issues)


def error_message(error: Mapping[str, Any]) -> str:
    """A pydantic error's message without the "Value error, " prefix pydantic adds."""
    return str(error["msg"]).removeprefix("Value error, ")


def join_path(prefix: str, field: str) -> str:
    """``prefix`` followed by ``field`` (a key, or an index like ``[2]``)."""
    if not prefix or not field:
        return prefix or field
    return prefix + field if field.startswith("[") else f"{prefix}.{field}"


def field_path(loc: Sequence[int | str]) -> str:
    """``("workflow", 2, "gate", "min")`` -> ``"workflow[2].min"`` (union tags dropped)."""
    path = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif not (i and isinstance(loc[i - 1], int) and part in _TAG_VALUES):
            path = join_path(path, part)
    return path


def validation_issues(exc: ValidationError, root: type[BaseModel]) -> list[Issue]:
    """Every error of ``exc`` (raised validating ``root``) as an issue."""
    issues: list[Issue] = []
    for error in exc.errors():
        where = field_path(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, CampaignProblems):
            issues += [(join_path(where, field), message) for field, message in cause.issues]
        else:
            issues.append((where, describe_error(error, root)))
    return issues


def _quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def describe_error(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    """One pydantic error (raised validating ``root``) as a message with the allowed values."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _CHOICE_TYPES:
        return f"{error['input']!r} is not allowed (allowed: {', '.join(_quoted(ctx['expected']))})"
    if kind == "union_tag_invalid":
        key = _quoted(ctx["discriminator"])[0]
        allowed = ", ".join(_quoted(ctx["expected_tags"]))
        return f"{key} {ctx['tag']!r} is unknown (allowed: {allowed})"
    if kind == "union_tag_not_found":
        key = _quoted(ctx["discriminator"])[0]
        return f"missing the key {key!r} (allowed: {', '.join(UNION_TAGS.get(key, ()))})"
    if kind == "extra_forbidden":
        keys = _allowed_keys(root, error["loc"])
        return "unknown key" + (f" (allowed: {', '.join(keys)})" if keys else "")
    return error_message(error)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """Pydantic models reachable in ``annotation`` through list, Optional, Union, Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models(arg)]


def _has_tag(model: type[BaseModel], tag: str) -> bool:
    """Whether ``model`` is the member of a discriminated union selected by ``tag``."""
    return any(
        key in model.model_fields and model.model_fields[key].default == tag for key in UNION_TAGS
    )


def _allowed_keys(root: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Field names of the model that holds the unknown key at ``loc`` (empty if ambiguous)."""
    candidates = [root]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        inner = [
            model
            for candidate in candidates
            if part in candidate.model_fields
            for model in _models(candidate.model_fields[part].annotation)
        ]
        candidates = inner or [c for c in candidates if _has_tag(c, part)]
    return list(candidates[0].model_fields) if len(candidates) == 1 else []
