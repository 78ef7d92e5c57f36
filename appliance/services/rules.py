"""The community rules of this centre: values set by adopted proposals, else the defaults.

Rules are the settings a community decides together (appliance/kinds.py RULES): how many
flags hide a post, how long posts stay open before "still needed?", how votes work.
They are records (`rule.set`, written only when a proposal is adopted), not kith.toml
settings, so the decision and its history are signed and visible.
"""

from __future__ import annotations

from appliance.box import Box
from appliance.kinds import RULES
from appliance.models import CentreRule


def rule(box: Box, name: str) -> int:
    """Return the value of one of this centre's rules."""
    row = CentreRule.get_or_none((CentreRule.origin == box.origin) & (CentreRule.name == name))
    return row.value if row is not None else RULES[name]


def all_rules(box: Box) -> list[dict]:
    """Return every rule with its current value, its default and the proposal that set it."""
    rows = {r.name: r for r in CentreRule.select().where(CentreRule.origin == box.origin)}
    return [
        {
            "name": name,
            "value": rows[name].value if name in rows else default,
            "default": default,
            "proposal": rows[name].proposal if name in rows else None,
            "set_ms": rows[name].set_ms if name in rows else None,
        }
        for name, default in RULES.items()
    ]
