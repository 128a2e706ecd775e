"""The fence agents' options, answers and failure causes (plugins/module_utils/_fence/power.py), from what
fence_redfish 4.12 (Debian 12's fence-agents) prints with verbose=1."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._fence import power

PARAMS = {"agent": "redfish", "address": "192.0.2.21", "port": 8443, "username": "admin", "password": "s3cr=t",
          "system": None, "validate_certs": True, "ca_path": None, "timeout": 60}


def options(text):
    return [line.split("=", 1) for line in text.splitlines()]


def test_redfish_options_are_stdin_lines_with_the_system_and_certificate_checks():
    lines = options(power.agent_options(dict(PARAMS, system="System.Embedded.1"), "off"))
    assert lines[:4] == [["action", "off"], ["ip", "192.0.2.21"], ["username", "admin"], ["password", "s3cr=t"]]
    assert ["ipport", "8443"] in lines and ["ssl_secure", "1"] in lines and ["power_timeout", "60"] in lines
    assert ["systems_uri", "/redfish/v1/Systems/System.Embedded.1"] in lines
    assert ["verbose", "1"] in lines
    insecure = options(power.agent_options(dict(PARAMS, validate_certs=False, port=None), "status"))
    assert ["ssl_insecure", "1"] in insecure and "ipport" not in dict(insecure)


def test_ipmilan_options_use_lanplus_and_no_tls_options():
    lines = dict(options(power.agent_options(dict(PARAMS, agent="ipmilan", port=None), "on")))
    assert lines["lanplus"] == "1" and lines["action"] == "on"
    assert not {"ssl_secure", "ssl_insecure", "systems_uri"} & set(lines)


@pytest.mark.parametrize("system, uri", [
    ("/redfish/v1/Systems/1", "/redfish/v1/Systems/1"), ("abc", "/redfish/v1/Systems/abc"), (None, None)])
def test_a_system_is_a_path_or_an_id_under_systems(system, uri):
    assert power.systems_uri(system) == uri


def test_urls_name_the_bmc_and_system_without_credentials():
    assert power.bmc_url(dict(PARAMS, system="x")) == "https://192.0.2.21:8443/redfish/v1/Systems/x"
    assert power.bmc_url(dict(PARAMS, port=None)) == "https://192.0.2.21:443"
    assert power.bmc_url(dict(PARAMS, agent="ipmilan", port=None)) == "ipmi://192.0.2.21:623"


@pytest.mark.parametrize("changes, problem", [
    ({"password": "a\nb"}, "password must be one line"),
    ({"address": "x\r"}, "address must be one line"),
    ({"agent": "ipmilan", "ca_path": "/ca.pem"}, "ca_path applies to agent redfish only (IPMI has no TLS)"),
    ({"agent": "ipmilan", "system": "1"}, "system applies to agent redfish only"),
    ({"timeout": 0}, "timeout must be at least 1 second"),
    ({"agent": "ipmilan", "password": "x" * 21}, "an IPMI 2.0 password has at most 20 bytes"),
    ({"agent": "ipmilan", "password": "x" * 20}, None),
    ({}, None),
])
def test_validation_refuses_what_the_agent_could_not_take(changes, problem):
    assert power.validate(dict(PARAMS, **changes)) == problem


@pytest.mark.parametrize("returncode, stdout, state", [
    (0, "Status: ON\n", "on"), (2, "Status: OFF\n", "off"),
    (1, "", None), (0, "Status: OFF\n", None), (1, "Status: ON\n", None)])
def test_status_is_read_from_the_exit_code_and_the_answer_together(returncode, stdout, state):
    assert power.parse_status(returncode, stdout) == state


LOG = '2026-12-01 15:37:55,995 DEBUG: https://127.0.0.1:18020 "GET {path} HTTP/1.1" {status} 209\n'
UNABLE = "2026-12-01 15:37:55,996 ERROR: Unable to get PowerState: https://127.0.0.1:18020{path}\n" \
         "2026-12-01 15:37:55,996 ERROR: Please use '-h' for usage\n"
REFUSED = ("ERROR: Failed: send_get_request: HTTPSConnectionPool(host='127.0.0.1', port=18999): Max retries exceeded "
           "with url: /redfish/v1 (Caused by NewConnectionError('...: Failed to establish a new connection: [Errno 111] "
           "Connection refused'))\n")
UNTRUSTED = ("ERROR: Failed: send_get_request: ... (Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
             "CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate')))\n")


@pytest.mark.parametrize("output, meaning", [
    (LOG.format(path="/redfish/v1/Systems/1", status=401) + UNABLE.format(path="/redfish/v1/Systems/1"),
     "the BMC refused the credentials of user admin (HTTP 401): check username and password"),
    (LOG.format(path="/redfish/v1", status=200) + LOG.format(path="/redfish/v1/Systems/nope", status=404)
     + UNABLE.format(path="/redfish/v1/Systems/nope"),
     "the BMC has no /redfish/v1/Systems/nope (HTTP 404): check the system option (a path under "
     "/redfish/v1/Systems/ or an Id)"),
    (REFUSED, "connection refused: no BMC listens on that address and port"),
    (UNTRUSTED, "its TLS certificate is not trusted: set ca_path to the CA that signed it (validate_certs false "
                "only for a BMC whose certificate cannot be trusted)"),
    ("ERROR: Failed: Timed out waiting to power OFF\n",
     "the BMC took the request but the host did not reach the state in time"),
    ("ERROR: Something else entirely\nERROR: Please use '-h' for usage\n", "Something else entirely"),
    ("", "no output"),
])
def test_the_cause_of_a_failure_is_read_from_the_agents_log(output, meaning):
    assert power.cause(output, PARAMS) == meaning
