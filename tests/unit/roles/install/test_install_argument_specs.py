"""meta/argument_specs.yml of bytes4096.codex.install documents exactly the public variables in
defaults/main.yml, with the same defaults, and the role README lists each of them; every variable a
task file (or vars/main.yml) reads is declared in the spec, or defined inside the role."""

from __future__ import annotations

import pathlib
import re

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


# ----- Every variable a task file reads is declared ------------------------------------------------
# Keys whose values are bare Jinja expressions; anywhere else only {{ }} and {% %} are templates.
BARE_JINJA_KEYS = {"when", "that", "failed_when", "changed_when", "until", "loop", "with_items"}
TEMPLATE = re.compile(r"{{(.*?)}}|{%(.*?)%}", re.S)
NAME = re.compile(r"(?<![\w.'\"])(_{0,2}codex_\w+)")


def expressions(node, key=None):
    """Every Jinja expression in a parsed task file or vars file."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from expressions(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item, key)
    elif isinstance(node, str):
        if key in BARE_JINJA_KEYS:
            yield node
        for match in TEMPLATE.finditer(node):
            yield match.group(1) or match.group(2)


def names_read(path: pathlib.Path) -> set:
    found = set()
    for expression in expressions(yaml.safe_load(path.read_text())):
        found.update(NAME.findall(expression))
    return found


def defined_internally() -> set:
    """Internal names: vars/main.yml, registered results and task-level vars."""
    names = set(yaml.safe_load((ROLE / "vars" / "main.yml").read_text()))

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("register"), str):
                names.add(node["register"])
            if isinstance(node.get("vars"), dict):
                names.update(node["vars"])
            if isinstance(node.get("ansible.builtin.set_fact"), dict):
                names.update(node["ansible.builtin.set_fact"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in (ROLE / "tasks").glob("*.yml"):
        walk(yaml.safe_load(path.read_text()))
    return names


def test_the_name_scanner_sees_bare_and_templated_expressions(tmp_path):
    sample = tmp_path / "t.yml"
    sample.write_text(
        "- name: x {{ codex_a }}\n"
        "  bytes4096.codex.codex_install_info:\n"
        "    users: \"{{ codex_b | default(_codex_c) }}\"\n"
        "  when: codex_d and __codex_e\n"
        "  tags: [codex_not_a_variable]\n"
    )
    assert names_read(sample) == {"codex_a", "codex_b", "_codex_c", "codex_d", "__codex_e"}


# Facts the role sets for the plays (tasks/preflight.yml) and may read back itself: outputs, not options.
OUTPUT_FACTS = {"codex_install_changed", "codex_install_passwd"}


def test_every_public_variable_read_by_the_role_is_in_the_spec():
    declared = set(options())
    for path in sorted((ROLE / "tasks").glob("*.yml")) + [ROLE / "vars" / "main.yml"]:
        public = {name for name in names_read(path) if not name.startswith("_")} - OUTPUT_FACTS
        assert public <= declared, f"{path.name} reads undeclared {sorted(public - declared)}"


def test_every_internal_name_read_by_the_role_is_defined():
    defined = defined_internally()
    for path in sorted((ROLE / "tasks").glob("*.yml")) + [ROLE / "vars" / "main.yml"]:
        internal = {name for name in names_read(path) if name.startswith("_")}
        assert internal <= defined, f"{path.name} reads undefined {sorted(internal - defined)}"
