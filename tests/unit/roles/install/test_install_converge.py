"""What a run of bytes4096.codex.install does, decided from the survey before anything changes.

tasks/main.yml includes converge.yml (detect, install or remove, survey again, notes) only when one
of ``_codex_converge_reasons`` in vars/main.yml applies, and sets ``codex_install_changed`` from
``_codex_changes``. A converged host must have no reason at all (it then costs the survey, one
set_fact and the final check); every case today's full run acts on must have one. Rendered with
Ansible's own templar over the role's defaults and vars, as in test_method_selection.py.
"""

from __future__ import annotations

import pathlib

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "install"
LINUX = {"system": "Linux", "os_family": "Debian", "architecture": "x86_64", "pkg_mgr": "apt"}
TOOLS = {"curl": "/usr/bin/curl", "wget": "", "tar": "/usr/bin/tar", "mktemp": "/usr/bin/mktemp",
         "npm": "/usr/bin/npm", "node": "/usr/bin/node"}
NPM_BIN = "/home/alice/.local/bin/codex"
SCRIPT_BIN = "/home/alice/.local/bin/codex"


def load(loader: DataLoader, path: pathlib.Path) -> dict:
    try:
        return loader.load_from_file(str(path), trusted_as_template=True)
    except TypeError:  # older ansible-core
        return loader.load_from_file(str(path))


def render(expression: str, **overrides):
    loader = DataLoader()
    variables = {}
    variables.update(load(loader, ROLE / "defaults" / "main.yml"))
    variables.update(load(loader, ROLE / "vars" / "main.yml"))
    variables["ansible_facts"] = {}
    variables.update(overrides)
    return Templar(loader=loader, variables=variables).template(variables[expression])


def npm_user(**values):
    entry = {"slot": "npm_user", "method": "npm", "scope": "user", "user": "alice", "home": "/home/alice",
             "shell": "/bin/bash", "version": "0.166.0", "bin": NPM_BIN, "prefix": "/home/alice/.local",
             "exists": True, "complete": True, "profiles": ["/home/alice/.profile"]}
    entry.update(values)
    return entry


def script_user(**values):
    entry = {"slot": "script_user", "method": "script", "scope": "user", "user": "alice", "home": "/home/alice",
             "shell": "/bin/bash", "version": "", "bin": SCRIPT_BIN, "exists": False, "complete": False,
             "linked": False, "profiles": [], "codex_home": "/home/alice/.codex", "target": "",
             "standalone": "/home/alice/.codex/packages/standalone"}
    entry.update(values)
    return entry


def account(**values):
    entry = {"user": "alice", "shell": "/bin/bash", "codex": NPM_BIN, "method": "npm", "version": "0.166.0",
             "version_source": "layout", "warnings": []}
    entry.update(values)
    return entry


def survey(installs, accounts, tools=None):
    return {"host": LINUX, "tools": TOOLS if tools is None else tools, "installs": installs,
            "accounts": accounts, "passwd": {"alice": ["alice", "1000", "1000", "", "/home/alice", "/bin/bash"]}}


NPM = dict(codex_install_method="npm", codex_version="0.166.0", codex_install_users=["alice"])
CONVERGED_NPM = survey([script_user(), npm_user()], [account()])


def reasons(info, **overrides):
    return render("_codex_converge_reasons", __codex_info=info, **dict(NPM, **overrides))


def test_a_converged_host_has_nothing_to_do():
    assert reasons(CONVERGED_NPM) == []
    assert render("_codex_changes", __codex_info=CONVERGED_NPM, **NPM) is False


def test_a_converged_script_host_has_nothing_to_do():
    own = script_user(version="0.169.0", exists=True, complete=True, linked=True, target="x86_64-unknown-linux-musl",
                      profiles=["/home/alice/.bashrc"])
    info = survey([own, npm_user(version="", exists=False, complete=False, profiles=[])],
                  [account(method="script", version="0.169.0")])
    assert reasons(info, codex_install_method="script", codex_version="0.169.0") == []


@pytest.mark.parametrize(("info", "overrides", "needle"), [
    (survey([script_user(), npm_user(version="0.150.0")], [account(version="0.150.0")]), {}, "at another version"),
    (survey([script_user(), npm_user(version="", exists=False, complete=False)], [account(codex="")]), {},
     "missing, incomplete"),
    (survey([script_user(version="0.169.0", exists=True), npm_user()], [account()]), {}, "another method"),
    (survey([script_user(), npm_user()], [account()], dict(TOOLS, npm="")), {}, "npm is missing"),
    (survey([script_user(), npm_user(profiles=["/home/alice/.bashrc"])], [account()]), {}, "PATH block"),
    (CONVERGED_NPM, {"codex_version": "v0.166"}, "does not fit"),
    (CONVERGED_NPM, {"codex_install_script_url": "http://mirror.example/install.sh", "codex_install_method": "script",
                     "codex_version": "latest"}, "does not fit"),
    (CONVERGED_NPM, {"codex_version": "latest", "codex_update": True}, "at another version"),
])
def test_every_case_with_work_runs_the_converge_tasks(info, overrides, needle):
    found = reasons(info, **overrides)
    assert any(needle in reason for reason in found), found


def test_the_npm_path_block_only_matters_when_the_role_manages_it():
    info = survey([script_user(), npm_user(profiles=[])], [account()])
    assert reasons(info, codex_install_npm_manage_path=False) == []
    assert render("_codex_npm_profiles_missing", __codex_info=info, **NPM) == ["/home/alice/.profile"]


def test_conflicts_count_as_a_change_only_when_they_are_removed():
    info = survey([script_user(version="0.169.0", exists=True), npm_user()], [account()])
    assert render("_codex_changes", __codex_info=info, **NPM) is False
    assert render("_codex_changes", __codex_info=info, codex_install_conflict_action="remove", **NPM) is True


@pytest.mark.parametrize(("own", "accounts", "expected"), [
    (npm_user(), [account()], True),
    (npm_user(version="", exists=False, complete=False, profiles=["/home/alice/.profile"]), [account(codex="")], True),
    (npm_user(version="", exists=False, complete=False, profiles=[]), [account(codex="")], False),
])
def test_absent_runs_while_something_is_left_to_remove(own, accounts, expected):
    info = survey([script_user(), own], accounts)
    assert bool(reasons(info, codex_state="absent")) is expected
    assert render("_codex_changes", __codex_info=info, codex_state="absent", **NPM) is own["exists"]


def test_absent_with_another_codex_on_path_prints_the_note():
    info = survey([script_user(), npm_user(version="", exists=False, complete=False, profiles=[])],
                  [account(codex="/usr/bin/codex", method="system")])
    assert reasons(info, codex_state="absent") == ["a note to print"]
    notes = render("_codex_notes", __codex_info=info, codex_state="absent", **NPM)
    assert [n["user"] for n in notes] == ["alice"]
    assert "still resolves to /usr/bin/codex (system)" in notes[0]["msg"]


def test_codex_not_on_the_login_path_yet_prints_the_warning_unless_not_verifying():
    info = survey([script_user(), npm_user()], [account(codex="", method="", version="")])
    assert reasons(info) == ["a note to print"]
    assert reasons(info, codex_install_verify=False) == []
    assert reasons(info, ansible_check_mode=True) == []


def test_windows_always_runs_its_own_survey():
    facts = {"system": "Win32NT", "os_family": "Windows", "architecture": "64-bit"}
    found = render("_codex_converge_reasons", __codex_info={"skipped": True}, ansible_facts=facts)
    assert found == ["install.ps1 surveys and installs on Windows itself"]
    assert render("_codex_changes", __codex_info={"skipped": True}, ansible_facts=facts) is False


def set_fact_values(**variables):
    """The facts tasks/preflight.yml sets, rendered over the given survey."""
    loader = DataLoader()
    tasks = load(loader, ROLE / "tasks" / "preflight.yml")
    facts = [t["ansible.builtin.set_fact"] for t in tasks if "ansible.builtin.set_fact" in t]
    assert len(facts) == 1, "one set_fact task sets every fact of the role"
    values = {}
    values.update(load(loader, ROLE / "defaults" / "main.yml"))
    values.update(load(loader, ROLE / "vars" / "main.yml"))
    values["ansible_facts"] = {}
    values.update(variables)
    return Templar(loader=loader, variables=values).template(facts[0])


def test_the_passwd_fact_comes_from_the_survey_in_the_same_set_fact():
    facts = set_fact_values(__codex_info=CONVERGED_NPM, **NPM)
    assert facts == {"codex_install_changed": False, "codex_install_passwd": CONVERGED_NPM["passwd"],
                     "codex_install_prefetched": [], "__codex_install_converge": False}
    facts = set_fact_values(__codex_info={"skipped": True},
                            ansible_facts={"system": "Win32NT", "os_family": "Windows", "architecture": "64-bit"})
    assert facts["codex_install_passwd"] == {}


def test_the_prefetched_fact_is_the_surveys_answers_for_the_codex_homes():
    answers = [{"request": {"codex_home": "~/.codex", "owner": "alice"}, "state": {"platform": "posix"}},
               {"request": {"codex_home": "~/.codex", "owner": "bob"}, "error": "owner 'bob' does not exist"}]
    facts = set_fact_values(__codex_info=dict(CONVERGED_NPM, codex_homes=answers), **NPM)
    assert facts["codex_install_prefetched"] == answers and facts["__codex_install_converge"] is False


def test_a_survey_failure_the_play_did_not_show_is_the_first_problem_of_the_request():
    """With the Codex homes' answers in it the survey is no_log and does not fail the task itself
    (tasks/survey.yml): converge.yml's first check fails with the module's message instead."""
    failed = {"failed": False, "msg": "codex_install_info: no such account: alice"}
    assert render("_codex_selection_error", __codex_info=failed, **NPM) == (
        "The survey of the host failed: codex_install_info: no such account: alice")
    assert reasons(failed)[0].startswith("the request does not fit this host")
    assert render("_codex_selection_error", __codex_info=CONVERGED_NPM, **NPM) == ""
    assert render("_codex_selection_error", __codex_info={"skipped": True},
                  ansible_facts={"system": "Win32NT", "os_family": "Windows", "architecture": "64-bit"}) == ""


def test_the_survey_hides_only_a_result_that_holds_the_codex_homes():
    task = load(DataLoader(), ROLE / "tasks" / "survey.yml")[0]
    assert task["no_log"] == "{{ __codex_survey_reads | bool }}"
    assert task["failed_when"] == "__codex_info is failed and not __codex_survey_reads | bool"
    for prefetch, method, after_change, hidden in (([{"owner": "alice"}], "npm", False, True),
                                                   ([], "npm", False, False),
                                                   ([{"owner": "alice"}], "homebrew", False, False),
                                                   ([{"owner": "alice"}], "npm", True, False)):
        extra = {"_codex_survey_version": "run"} if after_change else {}
        rendered = render("__codex_survey_reads", __codex_survey_reads=task["vars"]["__codex_survey_reads"],
                          codex_install_prefetch_codex_homes=prefetch, codex_install_method=method, **extra)
        assert (rendered in (True, "True")) == hidden, (prefetch, method, after_change)


def test_the_converge_decision_is_made_once_in_the_set_fact():
    """main.yml's include reads the fact; converge.yml ends with the final check."""
    loader = DataLoader()
    main = load(loader, ROLE / "tasks" / "main.yml")
    include = [t for t in main if "ansible.builtin.include_tasks" in t]
    assert len(include) == 1 and include[0]["when"] == "__codex_install_converge | bool"
    assert not [t for t in main if "ansible.builtin.assert" in t], "a converged host runs no check task"
    converge = load(loader, ROLE / "tasks" / "converge.yml")
    assert "ansible.builtin.assert" in converge[-1]
    shadowed = dict(CONVERGED_NPM)
    shadowed["accounts"] = [dict(a, codex="/usr/bin/codex", codex_realpath="/usr/bin/codex", method="")
                            for a in CONVERGED_NPM["accounts"]]
    assert set_fact_values(__codex_info=shadowed, **NPM)["__codex_install_converge"] is True
