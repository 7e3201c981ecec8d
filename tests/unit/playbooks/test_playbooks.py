"""The fleet playbooks and what a converged deploy costs: the configure role's main entry point stays at
7 tasks per host (argument validation included), every codex_config call is the one shared task file,
and the playbooks wire the roles as documented (install looks the accounts up for configure; the
reports come from the report role)."""

from __future__ import annotations

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
CONFIGURE = ROOT / "roles" / "configure" / "tasks"
PLAYBOOKS = ROOT / "playbooks"


def load(path):
    return yaml.safe_load(path.read_text())


def expanded(tasks):
    """The tasks a host runs from a task list, with import_tasks expanded (they add no task) and
    blocks flattened; include_tasks counts as one task (what the converged path sees when skipped)."""
    for task in tasks or []:
        if "ansible.builtin.import_tasks" in task:
            yield from expanded(load(CONFIGURE / task["ansible.builtin.import_tasks"]))
        elif "block" in task:
            for section in ("block", "rescue", "always"):
                yield from expanded(task.get(section))
        else:
            yield task


def test_a_converged_deploy_runs_7_configure_tasks_per_host():
    tasks = list(expanded(load(CONFIGURE / "main.yml")))
    # + the argument validation ansible adds for the entry point
    assert len(tasks) + 1 == 7, [t["name"] for t in tasks]
    modules = [t for t in tasks if "bytes4096.codex.codex_config" in t]
    assert len(modules) == 1, "one codex_config loop for the system layer and every account"


def test_every_codex_config_call_is_the_shared_task_file():
    for path in CONFIGURE.glob("*.yml"):
        text = path.read_text()
        if path.name != "_codex_config.yml":
            assert "bytes4096.codex.codex_config:" not in text, path.name
    assert (CONFIGURE / "_codex_config.yml").read_text().count("bytes4096.codex.codex_config:") == 1


def test_getent_is_one_task_file():
    hits = [p.name for p in CONFIGURE.glob("*.yml") if "ansible.builtin.getent:" in p.read_text()]
    assert hits == ["_accounts.yml"]


def test_deploy_asks_the_install_survey_for_the_accounts_and_root():
    play = load(PLAYBOOKS / "deploy.yml")[0]
    install, configure = play["roles"]
    assert install["role"] == "bytes4096.codex.install" and configure["role"] == "bytes4096.codex.configure"
    lookup = install["vars"]["codex_install_lookup_users"]
    assert "codex_account_names" in lookup and "'root'" in lookup
    assert "codex_install_changed" in configure["vars"]["codex_configure_verify_trigger"]


def roles_of(tasks):
    for task in tasks:
        if "block" in task:
            yield from (("block",) + r for r in roles_of(task["block"]))
            yield from (("always",) + r for r in roles_of(task.get("always") or []))
        else:
            role = task["ansible.builtin.import_role"]
            yield (role["name"], role["tasks_from"])


def test_audit_reports_once_after_every_host_was_audited():
    tasks = load(PLAYBOOKS / "audit.yml")[0]["tasks"]
    assert list(roles_of(tasks)) == [("bytes4096.codex.configure", "audit"), ("bytes4096.codex.report", "audit")]


def test_rotate_key_records_a_failed_host_before_it_stops_the_run():
    tasks = load(PLAYBOOKS / "rotate_key.yml")[0]["tasks"]
    assert list(roles_of(tasks)) == [("block", "bytes4096.codex.configure", "rotate"),
                                     ("always", "bytes4096.codex.report", "rotation")]
