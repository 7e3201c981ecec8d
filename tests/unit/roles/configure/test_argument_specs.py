"""meta/argument_specs.yml of bytes4096.codex.configure: the defaults file and the specs are in step,
each entry point declares exactly the public variables its task files (and the internal values and
template they use) read, and the role README names the variables it describes."""

from __future__ import annotations

import pathlib
import re

import yaml

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "configure"
ENTRY_FILES = {"main": "main.yml", "rotate": "rotate.yml", "audit": "audit.yml", "offboard": "offboard.yml"}
# Refused by the preflight with the replacement; read only to say so.
REMOVED = {"codex_configure_state", "codex_configure_codex_environment"}
# Keys whose values are bare Jinja expressions; anywhere else only {{ }} and {% %} are templates.
BARE_JINJA_KEYS = {"when", "that", "failed_when", "changed_when", "until", "loop"}
TEMPLATE = re.compile(r"{{(.*?)}}|{%(.*?)%}", re.S)
NAME = re.compile(r"(?<![\w.'\"])(_{0,2}codex_configure_\w+)")


def load(path):
    return yaml.safe_load(path.read_text())


def specs() -> dict:
    return load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]


def defaults() -> dict:
    return load(ROLE / "defaults" / "main.yml")


def expressions(node, key=None):
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


def included(tasks):
    """Task files a task list includes or imports (role-relative)."""
    for task in tasks or []:
        for key in ("ansible.builtin.include_tasks", "ansible.builtin.import_tasks"):
            if key in task:
                arg = task[key]
                yield arg["file"] if isinstance(arg, dict) else arg
        for section in ("block", "rescue", "always"):
            yield from included(task.get(section))


def task_files(entry: str) -> list:
    todo, seen = [ENTRY_FILES[entry]], []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        todo.extend(included(load(ROLE / "tasks" / name)))
    return seen


def names_in(node) -> set:
    found = set()
    for expression in expressions(node):
        found.update(NAME.findall(expression))
    return found


def internal() -> dict:
    """{_codex_configure_x: names its value reads}, from vars/main.yml and the default block."""
    values = load(ROLE / "vars" / "main.yml")
    reads = {name: names_in({"v": value}) for name, value in values.items()}
    template = (ROLE / "templates" / "default-block.toml.j2").read_text()
    reads["_codex_configure_block"] |= set(NAME.findall(template))
    return reads


def facts_set() -> set:
    """Public facts the role leaves for the report role (codex_configure_audit, _rotation): outputs."""
    found = set()

    def walk(tasks):
        for task in tasks or []:
            found.update(name for name in (task.get("ansible.builtin.set_fact") or {}) if name.startswith("codex_"))
            for section in ("block", "rescue", "always"):
                walk(task.get(section))
    for path in (ROLE / "tasks").glob("*.yml"):
        walk(load(path))
    return found


def public_read(entry: str) -> set:
    reads = internal()
    todo = set()
    for name in task_files(entry):
        todo |= names_in(load(ROLE / "tasks" / name))
    found, seen = set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name.startswith("codex_configure_"):
            found.add(name)
        todo |= reads.get(name, set())
    return found - REMOVED - facts_set()


def test_entry_points_are_the_task_files_the_playbooks_use():
    assert set(specs()) == set(ENTRY_FILES)


def test_every_default_is_specified_somewhere_and_nothing_else():
    declared = set()
    for spec in specs().values():
        declared |= set(spec["options"])
    assert declared - {"codex_configure_api_key"} == set(defaults())


def test_spec_defaults_match_the_defaults_file():
    for entry, spec in specs().items():
        for name, option in spec["options"].items():
            value = defaults().get(name)
            if name in defaults() and not (isinstance(value, str) and "{{" in value):
                assert option.get("default") == value, (entry, name)


def test_every_option_has_a_type_and_description():
    for entry, spec in specs().items():
        for name, option in spec["options"].items():
            assert option.get("type") and option.get("description"), (entry, name)


def test_each_entry_point_declares_exactly_what_it_reads():
    for entry, spec in specs().items():
        read = public_read(entry)
        assert read == set(spec["options"]), (
            entry, "read, not declared: %s" % sorted(read - set(spec["options"])),
            "declared, not read: %s" % sorted(set(spec["options"]) - read))


def test_offboard_needs_no_key():
    assert "codex_configure_api_key" not in specs()["offboard"]["options"]


def test_readme_names_only_real_variables():
    readme = (ROLE / "README.md").read_text()
    for name in set(re.findall(r"`(codex_configure_\w+)`", readme)) - REMOVED - facts_set():
        assert name in defaults() or name == "codex_configure_api_key", name


def test_the_role_leaves_its_results_as_documented_facts():
    assert facts_set() == {"codex_configure_audit", "codex_configure_rotation"}
    readme = (ROLE / "README.md").read_text()
    for name in facts_set():
        assert f"`{name}`" in readme, name
