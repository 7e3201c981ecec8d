"""The final check and the notes of bytes4096.codex.install (plugins/filter/codex_install_checks.py):
one list of problems over the survey instead of two looped assert tasks, the same messages."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bytes4096.codex.plugins.filter.codex_install_checks import (
    FilterModule, codex_install_notes, codex_install_problems)

BIN = "/home/alice/.local/bin/codex"


def own(**values):
    entry = {"slot": "script_user", "user": "alice", "shell": "/bin/bash", "version": "0.169.0", "bin": BIN,
             "complete": True, "linked": True, "exists": True, "profiles": ["/home/alice/.bashrc"]}
    entry.update(values)
    return entry


def account(**values):
    entry = {"user": "alice", "shell": "/bin/bash", "codex": BIN, "method": "script", "version": "0.169.0",
             "warnings": []}
    entry.update(values)
    return entry


def test_the_filters_are_registered():
    assert set(FilterModule().filters()) == {"codex_install_problems", "codex_install_notes", "codex_install_decision"}


@pytest.mark.parametrize("version", ["0.169.0", "latest"])
def test_an_install_in_the_requested_state_has_no_problem(version):
    assert codex_install_problems([own()], [account()], "present", version, "script") == []


def test_a_wrong_version_and_a_missing_link_are_named():
    problems = codex_install_problems([own(version="0.166.0")], [account(version="0.166.0")], "present", "0.169.0",
                                      "script")
    assert problems == ["alice: expected Codex 0.169.0 from the script method at %s, found version '0.166.0'." % BIN]
    problems = codex_install_problems([own(complete=False, linked=False)], [account(codex="")], "present", "latest",
                                      "script")
    assert problems == ["alice: expected Codex latest from the script method at %s, found version '0.169.0' "
                        "(link missing)." % BIN]
    # The link remark is the script method's only.
    problems = codex_install_problems([own(complete=False, linked=False)], [account(codex="")], "present", "latest",
                                      "npm")
    assert "(link missing)" not in problems[0]


def test_a_shadowing_codex_on_the_login_path_is_a_problem():
    shadow = account(codex="/usr/local/bin/codex", method="npm", version="0.150.0", warnings=["slow profile"])
    problems = codex_install_problems([own()], [shadow], "present", "0.169.0", "script")
    assert problems == [
        "alice: `codex` on the login PATH (/bin/bash) is /usr/local/bin/codex (npm, version '0.150.0': slow "
        "profile), expected the script install at %s (version 0.169.0). Remove the other install or fix PATH "
        "so only one Codex is visible." % BIN]


def test_the_path_codex_must_print_the_install_version():
    # The same binary, but it printed no version (codex --version failed after a change).
    problems = codex_install_problems([own()], [account(version="", warnings=["x --version exited 1"])], "present",
                                      "0.169.0", "script")
    assert len(problems) == 1 and "version '': x --version exited 1" in problems[0]


def test_no_codex_on_the_path_is_a_note_not_a_problem():
    assert codex_install_problems([own()], [account(codex="", method="", version="")], "present", "0.169.0",
                                  "script") == []
    notes = codex_install_notes([own()], [account(codex="")], "present", "script")
    assert notes == [{"user": "alice", "msg": (
        "[WARNING] alice: /home/alice/.local/bin is not on PATH in a login /bin/bash yet, so its version was not "
        "checked; the installer added it to /home/alice/.bashrc (new shells pick it up).")}]
    notes = codex_install_notes([own(profiles=[])], [], "present", "script")
    assert notes[0]["msg"].endswith("added it to no profile (new shells pick it up).")


def test_absent_wants_no_version_and_notes_another_codex_left_on_path():
    gone = own(version="", complete=False, linked=False, exists=False, profiles=[])
    assert codex_install_problems([gone], [account(codex="")], "absent", "0.169.0", "script") == []
    problems = codex_install_problems([own()], [account()], "absent", "0.169.0", "script")
    assert problems == ["alice: expected Codex to be absent from the script method at %s, found version "
                        "'0.169.0'." % BIN]
    other = account(codex="/usr/bin/codex", method="system")
    assert codex_install_problems([gone], [other], "absent", "0.169.0", "script") == []
    assert codex_install_notes([gone], [other], "absent", "script") == [{"user": "alice", "msg": (
        "alice: the script install is gone, but `codex` still resolves to /usr/bin/codex (system) on the login "
        "PATH (installed by something else; see the detect report).")}]
    assert codex_install_notes([gone], [account(codex="")], "absent", "script") == []


def test_several_accounts_are_each_checked():
    bob_own = own(user="bob", bin="/home/bob/.local/bin/codex", version="0.166.0")
    bob = account(user="bob", codex="/home/bob/.local/bin/codex", version="0.166.0")
    problems = codex_install_problems([own(), bob_own], [account(), bob], "present", "0.169.0", "script")
    assert [p.split(":")[0] for p in problems] == ["bob"]


def test_bad_input_is_refused():
    with pytest.raises(AnsibleFilterError, match="present or absent"):
        codex_install_problems([own()], [account()], "gone", "latest", "script")
    with pytest.raises(AnsibleFilterError, match="lists"):
        codex_install_notes(None, [], "present", "script")


# --- codex_install_decision: the role's decision in one call ------------------------------------

def test_the_decision_of_a_converged_per_user_npm_host_is_to_do_nothing():
    from ansible_collections.bytes4096.codex.plugins.filter.codex_install_checks import codex_install_decision
    own = dict(slot="npm_user", user="alice", home="/home/alice", version="0.169.0", complete=True, exists=True,
               bin="/home/alice/.local/bin/codex", profiles=["/home/alice/.profile"])
    other = dict(slot="script_user", user="alice", version="", complete=False, exists=False)
    account = dict(user="alice", codex="/home/alice/.local/bin/codex", version="0.169.0", method="npm")
    info = {"installs": [own, other], "accounts": [account], "tools": {"npm": "/usr/bin/npm"}}
    decision = codex_install_decision(info, slot="npm_user", method="npm", scope="user", state="present",
                                      version="0.169.0")
    assert decision["own"] == [own] and decision["others"] == [] and decision["pending"] == []
    assert decision["reasons"] == [] and decision["changes"] is False
    upgrade = codex_install_decision(info, slot="npm_user", method="npm", scope="user", state="present",
                                     version="0.170.0")
    assert upgrade["pending"] == [own] and upgrade["changes"] is True
    assert "an install is missing, incomplete or at another version" in upgrade["reasons"]
    latest = codex_install_decision(info, slot="npm_user", method="npm", scope="user", state="present",
                                    version="latest", update=True)
    assert latest["pending"] == [own]
    no_profile = dict(info, installs=[dict(own, profiles=[])], tools={})
    decision = codex_install_decision(no_profile, slot="npm_user", method="npm", scope="user", state="present",
                                      version="0.169.0")
    assert decision["npm_profiles_missing"] == ["/home/alice/.profile"]
    assert decision["reasons"] == ["npm is missing", "the npm PATH block is missing from a profile"]
    removal = codex_install_decision(info, slot="npm_user", method="npm", scope="user", state="absent",
                                     version="0.169.0", verifies=False)
    assert removal["changes"] is True and removal["reasons"] == ["something of this method's install is left to remove"]


def test_the_decision_over_a_skipped_survey_windows_is_empty():
    from ansible_collections.bytes4096.codex.plugins.filter.codex_install_checks import codex_install_decision
    decision = codex_install_decision({"skipped": True}, slot="powershell_system", method="powershell",
                                      scope="system", state="present", version="latest")
    assert decision["reasons"] == ["install.ps1 surveys and installs on Windows itself"]
    assert decision["changes"] is False and decision["own"] == [] and decision["tools"] == {}
