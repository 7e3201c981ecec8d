# -*- coding: utf-8 -*-
# Copyright (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the fingerprint of the API key in each account's auth.json, as one JSON object.

Runs on the target (Python 3 standard library only) so the key never leaves the host. The only
argument is a JSON list of accounts, ``[{"name": "alice"}, {"name": "ci", "codex_home": "/x"}]``
(without ``codex_home``: the account's ``~/.codex``). The output maps every account name to
``{"auth_file", "state", "fingerprint"}``: state is ``present``, ``none`` (no key in the file),
``missing`` (no file) or ``unreadable``; the fingerprint is ``sha256:`` + the first 16 hex digits
of SHA-256 of the key, as bytes4096.codex.codex_config reports it.
"""

import hashlib
import json
import os
import pwd
import sys


def auth_file(account):
    codex_home = account.get("codex_home")
    if not codex_home:
        codex_home = os.path.join(pwd.getpwnam(account["name"]).pw_dir, ".codex")
    return os.path.join(codex_home, "auth.json")


def fingerprint(path):
    result = {"auth_file": path, "state": "present", "fingerprint": None}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        result["state"] = "missing"
        return result
    except (OSError, ValueError):
        result["state"] = "unreadable"
        return result
    key = data.get("OPENAI_API_KEY") if isinstance(data, dict) else None
    if not isinstance(key, str) or not key.strip():
        result["state"] = "none"
        return result
    result["fingerprint"] = "sha256:" + hashlib.sha256(key.strip().encode("utf-8")).hexdigest()[:16]
    return result


def main(argv):
    if len(argv) != 1:
        sys.stderr.write("usage: codex_key_fingerprints.py JSON-LIST-OF-ACCOUNTS\n")
        return 2
    out = {}
    for account in json.loads(argv[0]):
        try:
            out[account["name"]] = fingerprint(auth_file(account))
        except KeyError:
            out[account["name"]] = {"auth_file": None, "state": "no such account", "fingerprint": None}
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
