"""Every task file of bytes4096.codex.install parses as Ansible tasks, including the Windows and
macOS ones that no CI host here can execute.

The role includes its method files dynamically (include_tasks), which ``--syntax-check`` of a
playbook using the role never opens. This test writes a throwaway playbook that imports each task
file statically and runs the real ``ansible-playbook --syntax-check`` on it.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "install"
TASK_FILES = sorted(p.name for p in (ROLE / "tasks").glob("*.yml"))


def ansible_playbook() -> str:
    candidate = pathlib.Path(sys.executable).with_name("ansible-playbook")
    return str(candidate) if candidate.exists() else (shutil.which("ansible-playbook") or "ansible-playbook")


def test_every_method_has_install_and_remove_files():
    for method in ("script", "npm", "powershell", "homebrew"):
        assert f"install_{method}.yml" in TASK_FILES
        assert f"remove_{method}.yml" in TASK_FILES


def test_task_files_pass_syntax_check(tmp_path):
    playbook = tmp_path / "syntax.yml"
    imports = "".join(
        f"    - ansible.builtin.import_tasks: {ROLE / 'tasks' / name}\n" for name in TASK_FILES
    )
    playbook.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n" + imports)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        [ansible_playbook(), "--syntax-check", "-i", "localhost,", str(playbook)],
        capture_output=True, text=True, env=env, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
