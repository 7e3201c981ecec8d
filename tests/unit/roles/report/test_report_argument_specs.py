"""meta/argument_specs.yml of bytes4096.codex.report: the defaults file, the specs and the README are in
step, each entry point declares exactly the public variables its task file reads, and the role reads
the configure role only through its documented facts."""

from __future__ import annotations

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "report"
ENTRY_FILES = {"audit": "audit.yml", "rotation": "rotation.yml"}
# The names these settings had in the configure role: the defaults still read them.
ALIASES = {"codex_configure_report_dir", "codex_configure_audit_gating_checks", "codex_configure_audit_fail"}
# What the configure role leaves per host for this role.
FACTS = {"codex_configure_audit", "codex_configure_rotation"}
NAME = re.compile(r"(?<![\w.'\"])(_{0,2}codex_\w+)")


def load(path):
    return yaml.safe_load(path.read_text())


def specs() -> dict:
    return load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]


def defaults() -> dict:
    return load(ROLE / "defaults" / "main.yml")


def strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def names_in(node) -> set:
    found = set()
    for text in strings(node):
        found.update(NAME.findall(text))
    return found


def test_entry_points_are_the_task_files():
    assert set(specs()) == set(ENTRY_FILES)
    assert {p.name for p in (ROLE / "tasks").glob("*.yml")} == set(ENTRY_FILES.values())


def test_every_default_is_specified_and_nothing_else():
    declared = set()
    for spec in specs().values():
        declared |= set(spec["options"])
    assert declared == set(defaults())


def test_public_names_carry_the_role_prefix():
    for name in defaults():
        assert name.startswith("codex_report_"), name


def test_every_option_has_a_type_and_description():
    for entry, spec in specs().items():
        for name, option in spec["options"].items():
            assert option.get("type") and option.get("description"), (entry, name)


def test_defaults_keep_the_configure_role_names_working():
    assert names_in(defaults()) - set(defaults()) == ALIASES


def test_each_entry_point_declares_exactly_what_it_reads():
    for entry, spec in specs().items():
        read = names_in(load(ROLE / "tasks" / ENTRY_FILES[entry]))
        public = {n for n in read if n.startswith("codex_report_")}
        assert public == set(spec["options"]), entry
        # besides its own options and results, only the configure role's documented facts
        assert read - public - FACTS == {n for n in read if n.startswith("__codex_report_")}, entry


def test_the_facts_it_reads_are_the_ones_configure_sets():
    configure = "\n".join(p.read_text() for p in (ROOT / "roles" / "configure" / "tasks").glob("*.yml"))
    for fact in FACTS:
        assert re.search(r"^\s+%s:\s*$" % fact, configure, re.M), fact


def test_readme_mentions_every_variable_and_fact():
    readme = (ROLE / "README.md").read_text()
    for name in set(defaults()) | FACTS:
        assert f"`{name}`" in readme, name
