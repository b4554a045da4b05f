"""Sweep members: the params of one pipeline run per combination in ``sweep.grid``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aefx.config import Params, describe_errors, set_dotted
from aefx.errors import AefxError
from aefx.workspace import WORKSPACES, in_workspace, params_digest


@dataclass(frozen=True)
class Member:
    """One sweep member: its overrides, its params and the workspace it writes into."""

    overrides: dict[str, Any]
    params: Params

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.overrides.items())


def members(base: Params, root: Path | None = None) -> list[Member]:
    """Every combination of ``base.sweep.grid`` applied to ``base``. Each member writes into
    ``workspaces/<its digest>/`` (absolute, so a worker elsewhere finds it) and runs its
    classifier cells one by one: the sweep already keeps the workers busy."""
    if not base.sweep.grid:
        raise AefxError("sweep.grid is empty: name at least one param and its values")
    tree = base.model_dump(mode="json", exclude={"paths"})
    tree["compute"] = {"threads": 1}
    out = []
    for overrides in base.sweep.members():
        member_tree = _copy(tree)
        origin = f"sweep member {overrides}"
        for key, value in overrides.items():
            set_dotted(member_tree, key.split("."), value, origin)
        try:
            params = Params.model_validate({**member_tree, "paths": base.paths.model_dump()})
        except ValidationError as exc:
            raise AefxError(describe_errors(exc, origin)) from None
        workspace = (Path(root or Path.cwd()) / WORKSPACES / params_digest(params)).absolute()
        out.append(Member(overrides, in_workspace(params, workspace)))
    digests = [m.params.paths.workspace for m in out]
    if len(set(digests)) != len(digests):
        raise AefxError("sweep.grid: two members have the same params")
    _no_run_twice(out)
    return out


def _no_run_twice(out: list[Member]) -> None:
    """Two members that differ only in settings neither reads would train and score alike, one
    run twice (a grid of autoencoder.bottleneck for the conv stack, which takes its code width
    from conv_filters): refused, naming what reads the setting, before anything runs."""
    import json

    from aefx.autoencoders import unused_settings
    from aefx.config import unread_settings

    seen: dict[str, Member] = {}
    for member in out:
        p = member.params
        unread = {
            **unused_settings(p.autoencoder, p.data.is_image, changed_only=False),
            **unread_settings(p.classifiers, p.evaluation, changed_only=False),
        }
        skipped = {
            key: when
            for key in member.overrides
            for name, when in unread.items()
            if key == name or key.startswith(f"{name}.")
        }
        read = {k: v for k, v in member.overrides.items() if k not in skipped}
        other = seen.setdefault(json.dumps(read, sort_keys=True, default=str), member)
        if other is not member:
            why = "; ".join(f"{key} (read {when})" for key, when in skipped.items())
            raise AefxError(
                f"sweep.grid: members {other.label} and {member.label} would be one run twice: "
                f"neither reads {why}"
            )


def _copy(tree: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(tree)
