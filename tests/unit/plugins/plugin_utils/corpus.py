# -*- coding: utf-8 -*-
# Copyright: (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real-world config.toml corpus under fixtures/real_world, shared by the tests that use it."""

from __future__ import annotations

import glob
import os

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'real_world')
FILES = sorted(os.path.basename(path) for path in glob.glob(os.path.join(CORPUS, '*.toml')))


def read_fixture(name):
    """A corpus file as a user has it. Files are stored LF and without BOM (git and ansible-test
    sanity would object otherwise); ``-crlf`` in the name means CRLF line endings, ``-bom`` a BOM."""
    with open(os.path.join(CORPUS, name), 'r', encoding='utf-8', newline='') as handle:
        text = handle.read()
    if '-crlf' in name:
        text = text.replace('\n', '\r\n')
    if '-bom' in name:
        text = '\ufeff' + text
    return text
