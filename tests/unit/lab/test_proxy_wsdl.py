"""The vim25 WSDL the lab's simulator serves to oslo.vmware, generated from pyVmomi's type registry."""

import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "lab" / "wsdl"))

import generate_vim_wsdl as generator  # noqa: E402

NS = {"w": "http://schemas.xmlsoap.org/wsdl/", "x": "http://www.w3.org/2001/XMLSchema",
      "s": "http://schemas.xmlsoap.org/wsdl/soap/"}


@pytest.fixture(scope="module")
def wsdl(tmp_path_factory):
    path = tmp_path_factory.mktemp("wsdl") / "vimService.wsdl"
    assert generator.main([str(path)]) == 0
    return ET.parse(path).getroot()


def complex_type(root, name):
    found = root.find(".//x:complexType[@name='%s']" % name, NS)
    assert found is not None, name
    return found


def elements(node):
    return {element.get("name"): element.attrib for element in node.iter("{%s}element" % NS["x"])}


def test_service_port_and_binding_are_those_oslo_vmware_uses(wsdl):
    port = wsdl.find("w:service[@name='VimService']/w:port[@name='VimPort']", NS)
    assert port is not None and port.get("binding") == "vim25:VimBinding"
    operation = wsdl.find("w:binding/w:operation[@name='RetrievePropertiesEx']/s:operation", NS)
    assert operation.get("soapAction") == "urn:vim25/6.5"


def test_the_methods_nova_needs_at_start_are_there(wsdl):
    request = elements(complex_type(wsdl, "FindExtensionRequestType"))
    assert list(request) == ["_this", "extensionKey"]
    assert request["_this"]["type"] == "vim25:ManagedObjectReference"
    for method in ("RegisterExtension", "Login", "SessionIsActive", "RetrievePropertiesEx", "CreateVM_Task"):
        assert wsdl.find(".//x:element[@name='%sResponse']" % method, NS) is not None, method


def test_types_are_those_of_api_65(wsdl):
    about = elements(complex_type(wsdl, "AboutInfo"))
    assert "instanceUuid" in about and "patchLevel" not in about  # patchLevel came with 7.0.2
    content = elements(complex_type(wsdl, "ServiceContent"))
    assert {"extensionManager", "serviceManager", "overheadMemoryManager"} <= set(content)
    # A property added after its type is optional on the wire, as in VMware's own WSDL.
    assert about["instanceUuid"].get("minOccurs") == "0" and about["name"].get("minOccurs") is None


def test_faults_held_as_data_are_localized_and_references_carry_their_type(wsdl):
    assert elements(complex_type(wsdl, "TaskInfo"))["error"]["type"] == "vim25:LocalizedMethodFault"
    reference = complex_type(wsdl, "ManagedObjectReference")
    assert reference.find("x:simpleContent/x:extension/x:attribute[@name='type']", NS) is not None
    assert complex_type(wsdl, "ArrayOfManagedObjectReference") is not None


def test_an_unknown_api_version_names_the_known_ones(tmp_path):
    with pytest.raises(SystemExit, match="does not know vim25/9.99; it knows: .*6.5"):
        generator.main(["--api", "9.99", str(tmp_path / "x.wsdl")])


def _oslo_schema():
    lab = Path(os.environ.get("LAB_DIR", ROOT / ".lab"))
    return next(iter(sorted(lab.glob("venv/lib/python3*/site-packages/oslo_vmware/wsdl/6.5"))), None)


@pytest.mark.skipif(_oslo_schema() is None, reason="no lab venv with oslo.vmware's copy of VMware's 6.5 schema")
def test_data_types_match_vmwares_own_65_schema():
    problems, _optionality, _extra = generator.compare(generator.Registry("6.5"), _oslo_schema())
    # pyVmomi no longer knows the virtual resource pool (vApp precursor) types; nothing sends them.
    assert [problem for problem in problems if not problem.startswith("missing type")] == []
    assert len(problems) <= 4
