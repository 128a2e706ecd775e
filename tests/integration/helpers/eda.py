"""ansible-rulebook run for real: the collection's HA rulebook in the background, and the events it printed."""

from __future__ import annotations

import ast
import re
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from helpers.lab import VENV_BIN

RULEBOOK = "nova_vsphere.mixed_cloud.kvm_host_ha"
# print_event's banner, then the event as a Python literal, then a line of stars.
EVENT = re.compile(r"\*\* [0-9: .-]+ \[event\] \*+\n(.*?)\n\*{20,}", re.S)


class Rulebook:
    """One ansible-rulebook process running RULEBOOK with INVENTORY, its variables, and its output file."""

    def __init__(self, env, inventory, variables=None, rulebook=RULEBOOK):
        self.workdir = tempfile.TemporaryDirectory(prefix="rulebook-")
        work = Path(self.workdir.name)
        self.output = work / "output.txt"
        (work / "vars.yml").write_text(yaml.safe_dump(variables or {}))
        command = [str(VENV_BIN / "ansible-rulebook"), "-i", str(inventory), "--rulebook", rulebook,
                   "--vars", str(work / "vars.yml"), "-v"]
        with self.output.open("w") as output:
            self.process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=work)

    def text(self):
        return self.output.read_text()

    def events(self):
        """Every event printed so far, as dicts."""
        return [ast.literal_eval(block) for block in EVENT.findall(self.text())]

    def wait_for(self, found, what, timeout=300):
        """The events once found(events) holds; the rulebook dying or the timeout fails with its output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if found(events):
                return events
            if self.process.poll() is not None:
                raise AssertionError("ansible-rulebook ended (%s) before %s:\n%s" % (
                    self.process.returncode, what, self.text()[-6000:]))
            time.sleep(0.5)
        raise AssertionError("no %s within %s s:\n%s" % (what, timeout, self.text()[-6000:]))

    def wait_started(self, timeout=120):
        """Once the source read nova for the first time (its rules engine is then up too)."""
        self.wait_for(lambda _events: "Waiting for events" in self.text(), "rulebook start", timeout)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.workdir.cleanup()


def summaries(events):
    """The recoveries of every kvm_host_ha summary event, in order."""
    return [row for event in events if "kvm_host_ha_summary" in event
            for row in event["kvm_host_ha_summary"]["recoveries"]]
