"""After changing the pin from 0.166.0 to 0.169.0: alice runs the new codex from her prefix."""

import json


def login(host, command):
    return host.run("runuser -l alice -c %s", command)


def test_codex_version_as_alice_is_the_new_pin(host):
    version = login(host, "codex --version")
    assert version.rc == 0, version.stderr
    assert version.stdout.strip() == "codex-cli 0.169.0"


def test_codex_on_alice_path_is_her_prefix(host):
    assert login(host, "command -v codex").stdout.strip() == "/home/alice/.local/bin/codex"


def test_package_lives_under_alice_prefix(host):
    manifest = host.file("/home/alice/.local/lib/node_modules/@openai/codex/package.json")
    assert manifest.user == "alice"
    assert json.loads(manifest.content_string)["version"] == "0.169.0"


def test_no_system_wide_codex(host):
    assert host.run("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v codex").rc != 0


def test_profile_block_puts_the_prefix_on_path(host):
    profile = host.file("/home/alice/.profile").content_string
    assert "# >>> bytes4096.codex npm >>>" in profile
    assert "/home/alice/.local/bin" in profile
