"""Offline stand-in for the pip bootstrap script that ansible-test downloads for its venvs.

ansible-test fetches ``get-pip-<version>.py`` from a host CI cannot reach. This script does the
same job with what every CPython ships: ``ensurepip`` puts a pip into the new virtualenv, then that
pip installs the exact packages ansible-test asked for from the package index. ansible-test's
``--no-setuptools``/``--no-wheel`` flags belong to get-pip and are dropped.
"""

import subprocess
import sys

GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}


def main(argv):
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    pip_args = [arg for arg in argv if arg not in GET_PIP_ONLY_FLAGS]
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + pip_args)


if __name__ == "__main__":
    main(sys.argv[1:])
