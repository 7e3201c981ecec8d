"""After converge: alice has the stand-in installer's layout and a working codex on her PATH."""

import os

VERSION = os.environ.get("CODEX_TEST_VERSION", "0.169.0")
TARGET = "x86_64-unknown-linux-musl"
STANDALONE = "/home/alice/.codex/packages/standalone"


def login(host, user, command):
    return host.run("runuser -l %s -c %s", user, command)


def test_release_directory_and_current_link(host):
    release = host.file(f"{STANDALONE}/releases/{VERSION}-{TARGET}")
    assert release.is_directory
    assert release.user == "alice"
    current = host.file(f"{STANDALONE}/current")
    assert current.is_symlink
    assert current.linked_to == release.path


def test_visible_link_points_at_current(host):
    link = host.file("/home/alice/.local/bin/codex")
    assert link.is_symlink
    assert host.check_output("readlink /home/alice/.local/bin/codex") == f"{STANDALONE}/current/codex"


def test_codex_runs_as_alice_from_her_login_shell(host):
    which = login(host, "alice", "command -v codex")
    assert which.rc == 0, which.stderr
    assert which.stdout.strip() == "/home/alice/.local/bin/codex"
    version = login(host, "alice", "codex --version")
    assert version.rc == 0, version.stderr
    assert version.stdout.strip() == f"codex-cli {VERSION}"


def test_installer_added_its_path_block(host):
    assert "# >>> Codex installer >>>" in host.file("/home/alice/.bashrc").content_string


def test_installer_came_from_the_served_url(host):
    log = host.file("/var/log/codex-standin-installer.log").content_string
    assert '"GET /install.sh HTTP/1.1" 200' in log
    assert f'"GET /codex-npm-linux-x64-{VERSION}.tgz HTTP/1.1" 200' in log


def test_alice_config_and_credentials_untouched(host):
    for name in ("config.toml", "auth.json"):
        f = host.file(f"/home/alice/.codex/{name}")
        assert f.content_string.rstrip("\n") == f"# {name} owned by alice, not by the installer"
        assert f.mode == 0o600


def test_failed_attempts_left_bob_without_codex(host):
    assert not host.file("/home/bob/.codex/packages").exists
    assert not host.file("/home/bob/.local/bin/codex").exists
    assert login(host, "bob", "command -v codex").rc != 0
