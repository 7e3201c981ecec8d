"""The harness smoke scenario converged a real container: things a fresh image does not have."""


def test_alice_is_an_ordinary_user(host):
    alice = host.user("alice")
    assert alice.uid == 1000
    assert alice.home == "/home/alice"


def test_converge_created_a_private_codex_home(host):
    codex_home = host.file("/home/alice/.codex")
    assert codex_home.is_directory
    assert codex_home.user == "alice"
    assert codex_home.mode == 0o700


def test_node_and_npm_are_in_the_image(host):
    assert host.run("node --version").rc == 0
    assert host.run("npm --version").rc == 0


def test_host_runs_a_supported_debian(host):
    assert host.system_info.distribution == "debian"
    assert host.system_info.release.split(".")[0] in ("12", "13")
