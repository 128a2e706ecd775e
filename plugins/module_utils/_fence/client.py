# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fence agents' client: the only code that runs one (fence_redfish, fence_ipmilan).

The agents are Debian's fence-agents, the ones pacemaker fences with. Each run gets its options
on standard input (``power.agent_options``), never on its command line, so no password shows in
``ps``; a run that outlives its deadline is killed. Every failure becomes one ``BackendError``
naming the BMC and the cause, with the password masked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess

from .._common.errors import BackendError, one_line
from . import power

FENCE_ARGUMENT_SPEC = dict(
    agent=dict(type="str", choices=list(power.AGENTS), default="redfish"),
    address=dict(type="str", required=True),
    port=dict(type="int"),
    username=dict(type="str", required=True),
    password=dict(type="str", required=True, no_log=True),
    system=dict(type="str"),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="int", default=60),
)
# Where Debian installs the agents, for a managed node whose PATH lacks sbin.
AGENT_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")
# Seconds an agent run gets beyond the power timeout, so that its own message wins over the kill.
GRACE = 15


class FenceAgentError(BackendError):
    """A fence agent failed, or could not be run."""


class FenceAgent:
    """One BMC as one fence agent reaches it."""

    def __init__(self, params, executable):
        self.params = params
        self.executable = executable
        self.name = os.path.basename(executable)
        self.url = power.bmc_url(params)

    def status(self):
        """on or off, as the BMC reads it."""
        completed = self._run("status")
        state = power.parse_status(completed.returncode, completed.stdout)
        if state is None:
            raise self._failure("could not read the power state", completed.stdout + completed.stderr)
        return state

    def power(self, state):
        """Power the host on or off; the agent returns once the BMC reads that state."""
        completed = self._run(state)
        if completed.returncode != 0:
            raise self._failure("could not power the host %s" % state, completed.stdout + completed.stderr)

    def _run(self, action):
        env = dict(os.environ, LANG="C", LC_ALL="C")
        if self.params.get("ca_path"):
            # fence_redfish verifies with requests, which takes its CA bundle from there.
            env["REQUESTS_CA_BUNDLE"] = self.params["ca_path"]
        deadline = self.params["timeout"] + GRACE
        try:
            return subprocess.run(  # noqa: S603 - the agent's path, no options on its command line
                [self.executable], input=power.agent_options(self.params, action), capture_output=True,
                text=True, env=env, timeout=deadline, check=False)
        except subprocess.TimeoutExpired:
            raise self._error("%s %s got no answer within %s s (killed): is the BMC reachable from here?"
                              % (self.name, action, deadline))
        except OSError as error:
            raise self._error("cannot run %s (%s)" % (self.executable, error.strerror))

    def _failure(self, what, output):
        return self._error("%s %s: %s" % (self.name, what, power.cause(output, self.params)))

    def _error(self, text):
        return FenceAgentError(sentence("BMC %s: %s" % (self.url, text), self.params["password"]))


def sentence(text, password):
    """One line ending as a sentence, the password masked."""
    text = one_line(text, [password])
    return text if text.endswith((".", "?")) else text + "."


def find_agent(name):
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(AGENT_DIRS))
    if not found:
        raise FenceAgentError("%s is not installed on the host that runs the module: install the fence agents "
                              "(Debian and Ubuntu: apt-get install fence-agents; RHEL: dnf install fence-agents-%s)"
                              % (name, name.split("_", 1)[1]))
    return found


@contextlib.contextmanager
def fence_session(params):
    """The BMC of params, its options checked before any agent runs."""
    problem = power.validate(params)
    if problem:
        raise FenceAgentError(sentence("BMC %s: %s" % (power.bmc_url(params), problem), params["password"]))
    yield FenceAgent(params, find_agent(power.AGENTS[params["agent"]]))
