"""Managed slots set in registry.toml (the file wins over the registry.slots tag), with a protected
slot beside them, through the service on the direct SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.errors import BadInput, Refused
from registry.service import Registry
from tests.factories import make_model, unique


def test_slots_listed_in_the_config_file_beside_a_protected_slot(make_settings, tmp_path: Path):
    name = unique("cfg slots")
    config = tmp_path / "registry.toml"
    config.write_text(
        f'[models."{name}".slots]\nmanaged = ["champion", "challenger"]\n'
        f'[models."{name}".slots.champion]\nmovers = ["bob"]\n'
    )
    reg = Registry.connect(make_settings("sqlite", leads_csv="ada,bob", config_file=config))
    make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}], name=name, model_tags={"registry.slots": "a, b"})

    assert reg.state(name).policy.slots == ("champion", "challenger")  # the file wins over the tag
    with pytest.raises(
        BadInput, match="'a' is not a slot this model manages: use one of champion, challenger"
    ):
        reg.promote(name, "1", "the tag's slot", actor=reg.actor("ada"), target="a")
    with pytest.raises(Refused, match="champion is protected: only bob may move it, not ada"):
        reg.promote(name, "1", "first", actor=reg.actor("ada"))  # champion: the first slot, by default
    reg.promote(name, "1", "first", actor=reg.actor("bob"))
    reg.promote(name, "2", "candidate", actor=reg.actor("ada"), target="challenger")
    aliases = {a: str(v) for a, v in reg.client.get_registered_model(name).aliases.items()}
    assert aliases == {"champion": "1", "challenger": "2"}
    assert [(a.actor, a.target, a.outcome) for a in reg.history(name) if a.action == "promote"] == [
        ("ada", "champion", "refused"),
        ("bob", "champion", "done"),
        ("ada", "challenger", "done"),
    ]
