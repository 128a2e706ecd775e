"""The lab's supervisor: the program sections it writes, read back by supervisord's own parser,
and a real supervisord starting, checking and stopping services for a lab in a temporary
directory."""

import os
import shlex
import sys
from pathlib import Path

import pytest
from supervisor.options import ServerOptions, UnhosedConfigParser

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lab"))

from minilab.config import LabConfig, LabError  # noqa: E402  pylint: disable=wrong-import-position
from minilab.supervisor import Ready, Supervisor, program_conf  # noqa: E402  pylint: disable=wrong-import-position

# What a shell, an INI file or supervisord's %-expansion would otherwise take for its own.
AWKWARD_ARGV = ["/bin/prog", "two words", "a;b", "x #y", "x ;y", "100%", "%(here)s", "{1,2}", "'q'", '"dq"', "",
                "back\\slash", "é"]
AWKWARD_ENV = {"SPACES": "x y", "COMMAS": "-kernel inet_dist_use_interface {127,0,0,1}", "PERCENT": "50%",
               "EMPTY": "", "QUOTE": "it's", "PUNCTUATION": "a;b#c"}


def parsed(conf: str, name: str):
    parser = UnhosedConfigParser()
    parser.read_string(conf)
    [program] = ServerOptions().processes_from_section(parser, f"program:{name}", name)
    return program


def test_a_program_reads_back_as_written(tmp_path):
    log = tmp_path / "svc.log"
    program = parsed(program_conf("svc", AWKWARD_ARGV, log, AWKWARD_ENV, "root"), "svc")
    assert shlex.split(program.command) == AWKWARD_ARGV
    assert program.environment == AWKWARD_ENV
    assert program.uid == 0
    assert program.stdout_logfile == str(log)
    assert program.redirect_stderr
    assert program.stdout_logfile_maxbytes == 0
    # The lab decides when a service starts and that a dead one stays dead.
    assert not program.autostart
    assert not program.autorestart
    assert program.stopasgroup and program.killasgroup


@pytest.mark.parametrize("argv, env", [
    (["/bin/prog", "two\nlines"], None),
    (["/bin/prog"], {"VALUE": 'say "hi"'}),
    (["/bin/prog"], {"VALUE": "x ;y"}),
    (["/bin/prog"], {"VALUE": "'quoted'"}),
])
def test_what_supervisord_cannot_carry_is_refused(argv, env):
    with pytest.raises(LabError, match="supervisord cannot carry"):
        program_conf("svc", argv, Path("/lab/logs/svc.log"), env)


@pytest.fixture()
def sup(tmp_path):
    supervisor = Supervisor(LabConfig(state=tmp_path / "lab"))
    yield supervisor
    supervisor.stop_all()


def service(env_word="ready"):
    code = "import os, sys, time; print(os.environ['WORD'], os.getpgid(0) == os.getpid(), flush=True); time.sleep(600)"
    return [sys.executable, "-c", code], {"WORD": env_word}


def test_services_start_once_and_stop_with_their_supervisord(sup):
    argv, env = service()
    assert sup.names() == [] and sup.daemon_pid() is None
    assert sup.start("one", argv, ready=Ready.log_line(r"^ready True$"), env=env, timeout=30)
    assert not sup.start("one", argv, ready=Ready.log_line(r"^ready True$"), env=env)
    pid = sup.pid("one")
    assert pid and os.getpgid(pid) == pid
    assert os.stat(sup.cfg.run / "supervisor.sock").st_mode & 0o777 == 0o700
    assert sup.start("two", argv, ready=Ready.log_line(r"^ready"), env=env, timeout=30)
    assert sup.names() == ["one", "two"]
    assert sup.stop("two") and not sup.stop("two")
    assert sup.names() == ["one"]
    daemon = sup.daemon_pid()
    assert sup.stop_all() == ["one"]
    assert not Path(f"/proc/{pid}").exists() and not Path(f"/proc/{daemon}").exists()
    assert sup.names() == [] and sup.pid("one") is None


def test_a_changed_definition_applies_at_the_next_start(sup):
    argv, env = service("first")
    sup.start("svc", argv, ready=Ready.log_line(r"^first"), env=env, timeout=30)
    sup.stop("svc")
    argv, env = service("second")
    # Only this run's output counts: the log still holds "first".
    assert sup.start("svc", argv, ready=Ready.log_line(r"^second"), env=env, timeout=30)


def test_a_service_that_dies_before_it_is_ready_says_so_and_shows_as_down(sup):
    argv = [sys.executable, "-c", "print('no config'); raise SystemExit(3)"]
    with pytest.raises(LabError, match=r"(?s)exited with status 3 before it was ready.*no config"):
        sup.start("broken", argv, ready=Ready.log_line("never"), timeout=30)
    assert sup.names() == ["broken"] and sup.pid("broken") is None
