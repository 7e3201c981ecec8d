"""Method selection of bytes4096.codex.install, rendered by Ansible's own templar.

The role decides which installer to use and which requests to refuse with Jinja expressions in
roles/install/vars/main.yml (``_codex_method``, ``_codex_selection_error``) over the role defaults.
These tests load both files with Ansible's DataLoader and render those expressions with the real
Templar for Linux, macOS and Windows facts, which no CI host here can provide for real.
"""

from __future__ import annotations

import pathlib

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "install"

FACTS = {
    "debian": {"system": "Linux", "os_family": "Debian", "architecture": "x86_64"},
    "ubuntu_arm": {"system": "Linux", "os_family": "Debian", "architecture": "aarch64"},
    "rhel": {"system": "Linux", "os_family": "RedHat", "architecture": "x86_64"},
    "macos_arm": {"system": "Darwin", "os_family": "Darwin", "architecture": "arm64"},
    "macos_intel": {"system": "Darwin", "os_family": "Darwin", "architecture": "x86_64"},
    "windows": {"system": "Win32NT", "os_family": "Windows", "architecture": "64-bit"},
    "windows_32": {"system": "Win32NT", "os_family": "Windows", "architecture": "32-bit"},
    "freebsd": {"system": "FreeBSD", "os_family": "FreeBSD", "architecture": "amd64"},
    "linux_armv7": {"system": "Linux", "os_family": "Debian", "architecture": "armv7l"},
}


def load(loader: DataLoader, path: pathlib.Path) -> dict:
    try:
        # ansible-core >= 2.19: role files are trusted templates, as when a play loads the role.
        return loader.load_from_file(str(path), trusted_as_template=True)
    except TypeError:  # older ansible-core: every loaded string is a template
        return loader.load_from_file(str(path))


def render(facts: str, expression: str, **overrides):
    loader = DataLoader()
    variables = {}
    variables.update(load(loader, ROLE / "defaults" / "main.yml"))
    variables.update(load(loader, ROLE / "vars" / "main.yml"))
    variables.update(overrides)
    variables["ansible_facts"] = FACTS[facts]
    templar = Templar(loader=loader, variables=variables)
    # The test only names which of the role's variables to render, as a task referencing it would.
    return templar.template(variables[expression])


@pytest.mark.parametrize(
    ("facts", "method"),
    [
        ("debian", "script"),
        ("ubuntu_arm", "script"),
        ("rhel", "script"),
        ("macos_arm", "script"),
        ("macos_intel", "script"),
        ("windows", "powershell"),
    ],
)
def test_auto_picks_the_official_installer_for_the_os(facts, method):
    assert render(facts, "_codex_method").strip() == method
    assert render(facts, "_codex_selection_error").strip() == ""


@pytest.mark.parametrize(
    ("facts", "method"),
    [
        ("debian", "npm"),
        ("macos_arm", "npm"),
        ("macos_arm", "homebrew"),
    ],
)
def test_an_explicit_method_that_fits_the_os_is_kept(facts, method):
    assert render(facts, "_codex_method", codex_install_method=method).strip() == method
    assert render(facts, "_codex_selection_error", codex_install_method=method).strip() == ""


@pytest.mark.parametrize(
    ("facts", "method", "needle"),
    [
        ("debian", "homebrew", "'homebrew' is not available on linux; choose one of: auto, script, npm"),
        ("debian", "powershell", "'powershell' is not available on linux"),
        ("windows", "script", "'script' is not available on windows; choose one of: auto, powershell"),
        ("windows", "npm", "'npm' is not available on windows"),
        ("macos_arm", "powershell", "'powershell' is not available on darwin"),
    ],
)
def test_a_method_the_os_cannot_run_is_refused(facts, method, needle):
    assert needle in render(facts, "_codex_selection_error", codex_install_method=method)


@pytest.mark.parametrize(
    ("facts", "needle"),
    [
        ("freebsd", "Unsupported operating system 'FreeBSD'"),
        ("linux_armv7", "Unsupported architecture 'armv7l' on linux"),
        ("windows_32", "Unsupported architecture '32-bit'"),
    ],
)
def test_unsupported_os_and_arch_are_refused(facts, needle):
    assert needle in render(facts, "_codex_selection_error")


def test_version_must_be_latest_or_semver():
    assert render("debian", "_codex_selection_error", codex_version="0.169.0").strip() == ""
    message = render("debian", "_codex_selection_error", codex_version="v0.169")
    assert "codex_version must be 'latest' or a release number x.y.z, not 'v0.169'" in message


def test_homebrew_cannot_pin_a_version():
    message = render("macos_arm", "_codex_selection_error", codex_install_method="homebrew", codex_version="0.169.0")
    assert "cannot be pinned to 0.169.0" in message


def test_per_user_installs_are_refused_for_connection_account_methods():
    message = render("windows", "_codex_selection_error", codex_install_users=["alice"])
    assert "powershell method installs for the connecting account only" in message


@pytest.mark.parametrize(("users", "scope"), [([], "system"), (["alice", "bob"], "user")])
def test_scope_follows_the_user_list(users, scope):
    assert render("debian", "_codex_scope", codex_install_users=users).strip() == scope
    assert render("debian", "_codex_slot", codex_install_users=users).strip() == f"script_{scope}"


@pytest.mark.parametrize(
    ("pin", "expected"),
    [("", ""), ("ab" * 32, "sha256:" + "ab" * 32), ("sha256:" + "cd" * 32, "sha256:" + "cd" * 32)],
)
def test_checksum_pin_is_normalised_for_get_url(pin, expected):
    assert render("debian", "_codex_script_checksum", codex_install_script_checksum=pin).strip() == expected


# ----- Host from the survey module, https-only installers, what the survey leads to ----------------

def test_the_survey_replaces_gathered_facts():
    survey = {"host": {"system": "Darwin", "os_family": "Darwin", "architecture": "arm64", "pkg_mgr": "homebrew"}}
    # Facts say Debian; the survey (what the play now uses instead of gather_facts) wins.
    assert render("debian", "_codex_platform", __codex_info=survey).strip() == "darwin"
    assert render("debian", "_codex_method", __codex_info=survey, codex_install_method="homebrew").strip() == "homebrew"
    assert render("debian", "_codex_selection_error", __codex_info=survey,
                  codex_install_method="homebrew").strip() == ""


@pytest.mark.parametrize("url", ["http://mirror.example/install.sh", "ftp://mirror.example/install.sh",
                                 "mirror.example/install.sh", "HTTP://127.0.0.1:8080/install.sh"])
def test_the_installer_url_must_be_https(url):
    message = render("debian", "_codex_selection_error", codex_install_script_url=url)
    assert "codex_install_script_url must be an https:// URL" in message
    # The URL itself is not echoed (it may carry credentials), only its scheme.
    assert "mirror.example" not in message and "127.0.0.1" not in message


def test_https_urls_pass_and_removal_never_needs_a_url():
    assert render("debian", "_codex_selection_error", codex_install_script_url="HTTPS://m.example/i.sh").strip() == ""
    assert render("debian", "_codex_selection_error", codex_state="absent",
                  codex_install_script_url="http://m.example/i.sh").strip() == ""


def test_install_ps1_url_must_be_https():
    message = render("windows", "_codex_selection_error", codex_install_powershell_url="http://m.example/i.ps1")
    assert "codex_install_powershell_url must be an https:// URL" in message


def installs(*entries):
    return {"installs": [dict({"version": "", "complete": False, "profiles": []}, **e) for e in entries]}


def test_pending_and_other_installs_from_the_survey():
    survey = installs(
        {"slot": "script_user", "user": "alice", "version": "0.169.0", "complete": True},
        {"slot": "script_user", "user": "bob", "version": "0.166.0", "complete": True},
        {"slot": "script_user", "user": "carol", "version": "0.169.0", "complete": False},
        {"slot": "script_user", "user": "dave"},
        {"slot": "npm_user", "user": "bob", "version": "0.150.0", "complete": True},
        {"slot": "npm_user", "user": "alice"},
        {"slot": "script_system", "user": "root"},
    )
    common = dict(__codex_info=survey, codex_install_users=["alice", "bob", "carol", "dave"])
    own = render("debian", "_codex_own", **common)
    assert [o["user"] for o in own] == ["alice", "bob", "carol", "dave"]
    pending = render("debian", "_codex_pending", codex_version="0.169.0", **common)
    assert sorted(p["user"] for p in pending) == ["bob", "carol", "dave"]
    pending_latest = render("debian", "_codex_pending", **common)
    assert sorted(p["user"] for p in pending_latest) == ["carol", "dave"]
    pending_update = render("debian", "_codex_pending", codex_update=True, **common)
    assert len(pending_update) == 4
    others = render("debian", "_codex_others", **common)
    assert [(o["slot"], o["user"]) for o in others] == [("npm_user", "bob")]
