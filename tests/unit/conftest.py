# -*- coding: utf-8 -*-
"""Make ``ansible_collections.bytes4096.codex`` importable for a plain ``pytest tests/unit``.

The harness links the repository as .build/collections/ansible_collections/bytes4096/codex; when
that link is missing (a fresh clone) an equivalent link is made in a temporary directory.
"""
from __future__ import annotations

import os
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collections_root():
    root = os.path.join(REPO_ROOT, '.build', 'collections')
    if os.path.isdir(os.path.join(root, 'ansible_collections', 'bytes4096', 'codex')):
        return root
    # Running inside an installed/ansible-test tree: the repo already is .../ansible_collections/bytes4096/codex
    parts = REPO_ROOT.split(os.sep)
    if len(parts) > 3 and parts[-3] == 'ansible_collections':
        return os.sep.join(parts[:-3])
    root = tempfile.mkdtemp(prefix='codex-unit-collections-')
    os.makedirs(os.path.join(root, 'ansible_collections', 'bytes4096'))
    os.symlink(REPO_ROOT, os.path.join(root, 'ansible_collections', 'bytes4096', 'codex'))
    return root


_ROOT = _collections_root()
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
try:
    # Install Ansible's collection finder too, so plugin loaders resolve bytes4096.codex.* names.
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader([_ROOT])
except ImportError:  # pragma: no cover - ansible-core < 2.15
    pass
