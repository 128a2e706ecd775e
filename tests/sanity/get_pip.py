"""Stand-in for the pip bootstrap script ansible-test downloads from ci-files.testing.ansible.com.

That host is out of reach here (only package registries are), so tests/run-tests.sh puts
this file in ansible-test's cache under the name it looks for. Like get-pip.py, it takes
pip install arguments plus its own --no-setuptools / --no-wheel: it installs the pip
wheel bundled with Python (ensurepip), then lets that pip install what ansible-test
asked for from the package index.
"""

import subprocess
import sys

OWN_OPTIONS = ("--no-setuptools", "--no-wheel")

# ensurepip runs in a child process: in-process it sets PIP_CONFIG_FILE=/dev/null in our
# environment, and the pip below would then ignore the machine's index and CA settings.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
pip_arguments = [argument for argument in sys.argv[1:] if argument not in OWN_OPTIONS]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *pip_arguments]))
