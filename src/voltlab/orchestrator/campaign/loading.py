"""Read a campaign from YAML: every problem (syntax, shape, values, consistency) becomes one
:class:`CampaignError` whose message starts with the file and lists ``field: message`` lines."""

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from voltlab.orchestrator.campaign.model import Campaign
from voltlab.orchestrator.campaign.report import validation_issues
from voltlab.orchestrator.errors import CampaignError


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found the key {key!r} twice",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def parse_campaign(text: str, source: str = "<string>") -> Campaign:
    """The campaign in YAML ``text``; ``source`` (a file name) starts every error message."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CampaignError(f"{source}: YAML syntax error{where}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise CampaignError(f"{source}: YAML error: {exc}") from exc
    if data is None:
        raise CampaignError(f"{source}: the campaign file is empty")
    if not isinstance(data, dict):
        raise CampaignError(
            f"{source}: the top level must be a mapping of campaign sections, got "
            f"{type(data).__name__} (allowed keys: {', '.join(Campaign.model_fields)})"
        )
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        issues = validation_issues(exc, Campaign)
        lines = "\n".join(f"  {field or '(campaign)'}: {message}" for field, message in issues)
        raise CampaignError(
            f"{source}: invalid campaign, {len(issues)} problem(s):\n{lines}"
        ) from exc


def load_campaign(path: str | Path) -> Campaign:
    """The campaign in the YAML file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read the campaign file ({exc.strerror})") from exc
    return parse_campaign(text, source=str(path))
