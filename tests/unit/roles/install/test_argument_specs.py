"""meta/argument_specs.yml of bytes4096.codex.install documents exactly the public variables in
defaults/main.yml, with the same defaults, and the role README lists each of them."""

from __future__ import annotations

import pathlib

import yaml

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "install"


def defaults() -> dict:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def options() -> dict:
    return yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def test_every_default_is_specified_and_nothing_else():
    assert sorted(defaults()) == sorted(options())


def test_public_names_carry_the_role_prefix():
    for name in defaults():
        assert name.startswith("codex_"), name


def test_spec_defaults_match_the_defaults_file():
    for name, value in defaults().items():
        assert options()[name].get("default") == value, name


def test_every_option_has_a_type_and_description():
    for name, spec in options().items():
        assert spec.get("type"), name
        assert spec.get("description"), name


def test_readme_mentions_every_variable():
    readme = (ROLE / "README.md").read_text()
    for name in defaults():
        assert f"`{name}`" in readme, name
