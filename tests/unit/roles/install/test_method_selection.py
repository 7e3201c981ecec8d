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


@pytest.mark.parametrize(
    ("users", "scope", "run_as"),
    [([], "system", ["root"]), (["alice", "bob"], "user", ["alice", "bob"])],
)
def test_scope_follows_the_user_list(users, scope, run_as):
    assert render("debian", "_codex_scope", codex_install_users=users).strip() == scope
    assert list(render("debian", "_codex_run_as", codex_install_users=users)) == run_as
    assert render("debian", "_codex_slot", codex_install_users=users).strip() == f"script_{scope}"


@pytest.mark.parametrize(
    ("pin", "expected"),
    [("", ""), ("ab" * 32, "sha256:" + "ab" * 32), ("sha256:" + "cd" * 32, "sha256:" + "cd" * 32)],
)
def test_checksum_pin_is_normalised_for_get_url(pin, expected):
    assert render("debian", "_codex_script_checksum", codex_install_script_checksum=pin).strip() == expected
