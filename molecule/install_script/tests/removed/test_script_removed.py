"""After codex_state: absent: no codex for alice, but her Codex configuration is still there."""


def test_no_codex_on_alice_login_path(host):
    which = host.run("runuser -l alice -c 'command -v codex'")
    assert which.rc != 0
    assert which.stdout.strip() == ""


def test_installer_files_and_path_block_are_gone(host):
    assert not host.file("/home/alice/.local/bin/codex").exists
    assert not host.file("/home/alice/.codex/packages/standalone").exists
    assert "Codex installer" not in host.file("/home/alice/.bashrc").content_string


def test_config_and_credentials_are_kept(host):
    for name in ("config.toml", "auth.json"):
        f = host.file(f"/home/alice/.codex/{name}")
        assert f.content_string.rstrip("\n") == f"# {name} owned by alice, not by the installer"
