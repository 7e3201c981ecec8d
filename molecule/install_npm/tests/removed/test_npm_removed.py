"""After codex_state: absent with the npm method: no codex left for alice."""


def test_no_codex_on_alice_login_path(host):
    which = host.run("runuser -l alice -c 'command -v codex'")
    assert which.rc != 0
    assert which.stdout.strip() == ""


def test_package_and_link_are_gone(host):
    assert not host.file("/home/alice/.local/lib/node_modules/@openai/codex").exists
    assert not host.file("/home/alice/.local/bin/codex").exists


def test_profile_block_is_gone(host):
    assert "bytes4096.codex npm" not in host.file("/home/alice/.profile").content_string
