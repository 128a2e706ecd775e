#!/usr/bin/env python3
"""Write a vSphere API WSDL (vimService.wsdl) for one API version, from pyVmomi's type registry.

oslo.vmware, and so nova's VMware driver, talks to vCenter through suds, which builds
every request and parses every response from the WSDL that vCenter serves at
``/sdk/vimService.wsdl``. govmomi's simulator serves none. pyVmomi carries the complete
registry of the API it speaks (every data type with its properties in wire order, their
optional and array flags, every enum, every method with its parameters, result and
faults, each tagged with the API version that introduced it), which is all a WSDL says.

This script keeps what the given API version has (``--api 6.5``: the version the lab's
simulator announces) and writes one self-contained WSDL: the vim25 schema inline, then
messages, port type, SOAP binding and service, laid out as vCenter's own vim.wsdl and
vimService.wsdl are. suds refuses an element its WSDL does not know, so the version
matters: a 5.5 WSDL fails on 6.5's ServiceContent (serviceManager, overheadMemoryManager).

usage: generate_vim_wsdl.py [--api 6.5] [--compare-xsd DIR] OUTPUT
  --compare-xsd DIR  also compare the data types with VMware's own schema files of that
                     version (vim-types.xsd, core-types.xsd, query-types.xsd, such as
                     oslo.vmware ships for PBM) and print every difference; exit 1 if any
                     type VMware defines is missing or differs.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

from pyVmomi import VmomiSupport

NAMESPACE = "urn:vim25"
PYVMOMI_VERSION = importlib.metadata.version("pyvmomi")
F_LINK, F_OPTIONAL = VmomiSupport.F_LINK, VmomiSupport.F_OPTIONAL

PRIMITIVES = {
    "string": "xsd:string",
    "boolean": "xsd:boolean",
    "byte": "xsd:byte",
    "short": "xsd:short",
    "int": "xsd:int",
    "long": "xsd:long",
    "float": "xsd:float",
    "double": "xsd:double",
    "anyType": "xsd:anyType",
    "vmodl.DateTime": "xsd:dateTime",
    "vmodl.Binary": "xsd:base64Binary",
    "vmodl.TypeName": "xsd:string",
    "vmodl.MethodName": "xsd:string",
    "vmodl.PropertyPath": "xsd:string",
}
# The ArrayOf types of the primitives, named as vCenter names them (the item element is the XSD type's name).
PRIMITIVE_ARRAYS = ("string", "boolean", "byte", "short", "int", "long", "float", "double", "anyType", "dateTime",
                    "base64Binary", "anyURI")

# The types at the root of the vim25 schema, as VMware's core-types.xsd defines them. They are
# not pyVmomi's: pyVmomi gives DynamicData its own dynamicType/dynamicProperty and MethodFault a
# msg, and derives LocalizedMethodFault from MethodFault, none of which is on the wire.
CORE_TYPES = {
    "DynamicData": (None, []),
    "DynamicArray": (None, [("val", "xsd:anyType", 1, True)]),
    "DynamicProperty": (None, [("name", "xsd:string", 1, False), ("val", "xsd:anyType", 1, False)]),
    "MethodFault": (None, [("faultCause", "vim25:LocalizedMethodFault", 0, False),
                           ("faultMessage", "vim25:LocalizableMessage", 0, True)]),
    "LocalizedMethodFault": ("DynamicData", [("fault", "vim25:MethodFault", 1, False),
                                             ("localizedMessage", "xsd:string", 0, False)]),
}


class Registry:
    """pyVmomi's definitions of one API version, by WSDL name."""

    def __init__(self, api):
        self.version = VmomiSupport.versionMap.get("vim25/%s" % api)
        if self.version is None:
            known = sorted(key.split("/", 1)[1] for key in VmomiSupport.versionMap if key.startswith("vim25/"))
            raise SystemExit("pyVmomi %s does not know vim25/%s; it knows: %s" % (PYVMOMI_VERSION, api, ", ".join(known)))
        self.api = api
        self.versions = set(VmomiSupport.GetVersionParents(self.version))
        self.data = {}  # vmodl name -> (wsdl name, parent vmodl name, props)
        self.enums = {}  # vmodl name -> (wsdl name, values)
        self.managed = {}  # vmodl name -> (wsdl name, methods)
        for name, (_vmodl, wsdl, parent, version, props) in VmomiSupport._dataDefMap.items():
            if version in self.versions:
                self.data[name] = (wsdl, parent, [p for p in props or () if p[2] in self.versions])
        for name, (_vmodl, wsdl, version, values) in VmomiSupport._enumDefMap.items():
            if version in self.versions:
                self.enums[name] = (wsdl, list(values))
        for name, (_vmodl, wsdl, _parent, version, _props, methods) in VmomiSupport._managedDefMap.items():
            if version in self.versions:
                self.managed[name] = (wsdl, [m for m in methods or () if m[2] in self.versions])

    def xsd_type(self, type_name, flags=0):
        """The schema type of a property, parameter or result, and whether it is an array."""
        array = type_name.endswith("[]")
        base = type_name[:-2] if array else type_name
        if flags & F_LINK:  # a reference to another object's key: on the wire, the key itself
            return "xsd:string", array
        if base in PRIMITIVES:
            return PRIMITIVES[base], array
        if base == "vmodl.MethodFault":  # a fault held as data travels wrapped, with its message
            return "vim25:LocalizedMethodFault", array
        if base == "vmodl.ManagedObject" or base in self.managed or base in VmomiSupport._managedDefMap:
            return "vim25:ManagedObjectReference", array
        if base in self.data:
            return "vim25:" + self.data[base][0], array
        if base in self.enums:
            return "vim25:" + self.enums[base][0], array
        raise KeyError("%s is not part of vim25/%s" % (type_name, self.api))

    def is_fault(self, vmodl_name):
        while vmodl_name and vmodl_name in self.data:
            if vmodl_name == "vmodl.MethodFault":
                return True
            vmodl_name = self.data[vmodl_name][1]
        return vmodl_name == "vmodl.MethodFault"

    def complex_types(self):
        """Every data type: name -> (base name or None, [(element, type, minOccurs, unbounded)])."""
        types = dict(CORE_TYPES)
        for name, (wsdl, parent, props) in self.data.items():
            if wsdl in CORE_TYPES or wsdl == "DataObject":
                continue
            elements = []
            type_version = VmomiSupport._dataDefMap[name][3]
            for prop_name, type_name, version, flags in (p[:4] for p in props):
                xsd, array = self.xsd_type(type_name, flags)
                # A property added after its type is optional on the wire: older servers do not send it.
                optional = flags & F_OPTIONAL or version != type_version
                elements.append((prop_name, xsd, 0 if optional else 1, array))
            base = self.data[parent][0] if parent in self.data else None
            types[wsdl] = (None if base == "DataObject" else base, elements)
        return types

    def methods(self):
        """Every method: wsdl name -> (params, result, faults), sorted by name."""
        found = {}
        for _name, (_wsdl, methods) in self.managed.items():
            for _vmodl, wsdl, _version, params, result, _privilege, faults in methods:
                elements = [("_this", "vim25:ManagedObjectReference", 1, False)]
                for param_name, type_name, _param_version, flags, _priv in (p for p in params if p[2] in self.versions):
                    xsd, array = self.xsd_type(type_name, flags)
                    elements.append((param_name, xsd, 0 if flags & F_OPTIONAL else 1, array))
                result_flags, result_type = result[0], result[1]
                returns = None
                if result_type != "void":
                    xsd, array = self.xsd_type(result_type, result_flags)
                    returns = ("returnval", xsd, 0 if result_flags & F_OPTIONAL or array else 1, array)
                fault_names = sorted({self.data[f][0] for f in faults or () if f in self.data})
                found[wsdl] = (elements, returns, fault_names)
        return dict(sorted(found.items()))


def _element(name, xsd, min_occurs, unbounded, indent):
    attributes = 'name="%s" type="%s"' % (name, xsd)
    if min_occurs == 0:
        attributes += ' minOccurs="0"'
    if unbounded:
        attributes += ' maxOccurs="unbounded"'
    return "%s<element %s />" % (" " * indent, attributes)


def _sequence(elements, indent):
    lines = [" " * indent + "<sequence>"]
    lines += [_element(*element, indent + 3) for element in elements]
    lines.append(" " * indent + "</sequence>")
    return lines


def _complex_type(name, base, elements):
    if base is None:
        return ['      <complexType name="%s">' % name, *_sequence(elements, 9), "      </complexType>"]
    return [
        '      <complexType name="%s">' % name,
        "         <complexContent>",
        '            <extension base="vim25:%s">' % base,
        *_sequence(elements, 15),
        "            </extension>",
        "         </complexContent>",
        "      </complexType>",
    ]


def _array_type(name, item_element, item_type):
    return ['      <complexType name="ArrayOf%s">' % name,
            *_sequence([(item_element, item_type, 0, True)], 9),
            "      </complexType>"]


def schema(registry):
    lines = [
        '   <types>',
        '      <schema targetNamespace="%s" xmlns="http://www.w3.org/2001/XMLSchema" xmlns:vim25="%s"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">' % (NAMESPACE, NAMESPACE),
        '      <complexType name="ManagedObjectReference">',
        "         <simpleContent>",
        '            <extension base="xsd:string">',
        '               <attribute name="type" type="xsd:string" />',
        "            </extension>",
        "         </simpleContent>",
        "      </complexType>",
        *_array_type("ManagedObjectReference", "ManagedObjectReference", "vim25:ManagedObjectReference"),
    ]
    for item in PRIMITIVE_ARRAYS:
        lines += _array_type(item[0].upper() + item[1:], item, "xsd:" + item)
    for name, (base, elements) in sorted(registry.complex_types().items()):
        lines += _complex_type(name, base, elements)
        if name not in ("DynamicData", "DynamicArray"):
            lines += _array_type(name, name, "vim25:" + name)
    for _vmodl, (name, values) in sorted(registry.enums.items(), key=lambda item: item[1][0]):
        lines += ['      <simpleType name="%s">' % name, '         <restriction base="xsd:string">']
        lines += ["            <enumeration value=%s />" % quoteattr(value) for value in values]
        lines += ["         </restriction>", "      </simpleType>"]
        lines += _array_type(name, name, "vim25:" + name)
    methods = registry.methods()
    for name, (params, returns, _faults) in methods.items():
        lines += ['      <element name="%s" type="vim25:%sRequestType" />' % (name, name)]
        lines += ['      <complexType name="%sRequestType">' % name, *_sequence(params, 9), "      </complexType>"]
        lines += ['      <element name="%sResponse">' % name, "         <complexType>",
                  *_sequence([returns] if returns else [], 12), "         </complexType>", "      </element>"]
    for name in _fault_names(registry):
        lines.append('      <element name="%sFault" type="vim25:%s" />' % (name, name))
    lines += ["      </schema>", "   </types>"]
    return lines


def _fault_names(registry):
    return sorted(wsdl for vmodl, (wsdl, _parent, _props) in registry.data.items() if registry.is_fault(vmodl))


def definitions(registry):
    """The whole WSDL document, as vim.wsdl and vimService.wsdl together."""
    methods = registry.methods()
    action = "urn:vim25/%s" % registry.api
    lines = [
        '<?xml version="1.0" encoding="UTF-8" ?>',
        "<!-- Generated by tests/lab/wsdl/generate_vim_wsdl.py from pyVmomi %s's type registry: vim25/%s. -->" % (
            PYVMOMI_VERSION, registry.api),
        '<definitions targetNamespace="%s" xmlns="http://schemas.xmlsoap.org/wsdl/"'
        ' xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:vim25="%s"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema">' % (NAMESPACE, NAMESPACE),
        *schema(registry),
    ]
    for name in [*_fault_names(registry)]:
        lines += ['   <message name="%sFaultMsg">' % name,
                  '      <part name="fault" element="vim25:%sFault" />' % name, "   </message>"]
    for name in methods:
        lines += ['   <message name="%sRequestMsg">' % name,
                  '      <part name="parameters" element="vim25:%s" />' % name, "   </message>",
                  '   <message name="%sResponseMsg">' % name,
                  '      <part name="parameters" element="vim25:%sResponse" />' % name, "   </message>"]
    lines.append('   <portType name="VimPortType">')
    for name, (_params, _returns, faults) in methods.items():
        lines += ['      <operation name="%s">' % name,
                  '         <input message="vim25:%sRequestMsg" />' % name,
                  '         <output message="vim25:%sResponseMsg" />' % name]
        lines += ['         <fault name="%sFault" message="vim25:%sFaultMsg" />' % (fault, fault)
                  for fault in _with_runtime_fault(faults)]
        lines.append("      </operation>")
    lines += ["   </portType>",
              '   <binding name="VimBinding" type="vim25:VimPortType">',
              '      <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http" />']
    for name, (_params, _returns, faults) in methods.items():
        lines += ['      <operation name="%s">' % name,
                  '         <soap:operation soapAction="%s" />' % action,
                  '         <input><soap:body use="literal" /></input>',
                  '         <output><soap:body use="literal" /></output>']
        lines += ['         <fault name="%sFault"><soap:fault name="%sFault" use="literal" /></fault>' % (fault, fault)
                  for fault in _with_runtime_fault(faults)]
        lines.append("      </operation>")
    lines += ["   </binding>",
              '   <service name="VimService">',
              '      <port binding="vim25:VimBinding" name="VimPort">',
              '         <soap:address location="https://localhost/sdk" />',
              "      </port>",
              "   </service>",
              "</definitions>"]
    return "\n".join(lines) + "\n"


def _with_runtime_fault(faults):
    # Every vim25 method may fail with a RuntimeFault; vCenter's WSDL lists it on each operation.
    return sorted(set(faults) | {"RuntimeFault"})


# --- comparison with VMware's own schema -----------------------------------------------------

_TYPE = re.compile(r'<complexType name="([^"]+)">(.*?)</complexType>', re.S)
_ELEMENT = re.compile(r'<element name="([^"]+)" type="([^"]+)"([^/]*)/>')


def _parse_xsd(text):
    types = {}
    for name, body in _TYPE.findall(text):
        base = re.search(r'<extension base="vim25:([^"]+)"', body)
        elements = [(n, t, 0 if 'minOccurs="0"' in rest else 1, "unbounded" in rest)
                    for n, t, rest in _ELEMENT.findall(body)]
        types[name] = (base.group(1) if base else None, elements)
    return types


def compare(registry, xsd_dir):
    """Compare the generated data types with VMware's schema files in xsd_dir.

    Returns (problems, optionality, extra): types missing or differing in base, element
    names, order, types or arrays; elements whose minOccurs alone differs (pyVmomi's newest
    registry marks a few differently; suds does not enforce minOccurs); types VMware's
    files do not define (a superset is harmless: nothing sends them).
    """
    text = "".join((Path(xsd_dir) / name).read_text() for name in ("core-types.xsd", "query-types.xsd", "vim-types.xsd"))
    theirs = _parse_xsd(text)
    ours = registry.complex_types()
    problems, optionality = [], []
    for name, (base, elements) in sorted(theirs.items()):
        if name.startswith("ArrayOf") or name == "ManagedObjectReference":
            continue
        if name not in ours:
            problems.append("missing type %s (pyVmomi no longer knows it)" % name)
            continue
        if ours[name][0] != base:
            problems.append("%s: base %s, VMware's %s" % (name, ours[name][0], base))
        shape = [(n, t, unbounded) for n, t, _min, unbounded in elements]
        if [(n, t, unbounded) for n, t, _min, unbounded in ours[name][1]] != shape:
            problems.append("%s: elements differ:\n  ours:   %s\n  VMware: %s" % (name, ours[name][1], elements))
        elif ours[name][1] != elements:
            optionality += ["%s.%s" % (name, mine[0]) for mine, vmware in zip(ours[name][1], elements) if mine != vmware]
    extra = sorted(set(ours) - set(theirs))
    return problems, optionality, extra


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="the WSDL file to write")
    parser.add_argument("--api", default="6.5", help="vSphere API version (default 6.5, the lab simulator's)")
    parser.add_argument("--compare-xsd", type=Path, help="VMware's schema files of that version, to compare with")
    args = parser.parse_args(argv)
    registry = Registry(args.api)
    document = definitions(registry)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.output.with_name(args.output.name + ".tmp")
    temporary.write_text(document)
    temporary.replace(args.output)
    print("wrote %s: vim25/%s, %d data types, %d enums, %d methods" % (
        args.output, args.api, len(registry.complex_types()), len(registry.enums), len(registry.methods())))
    if args.compare_xsd:
        problems, optionality, extra = compare(registry, args.compare_xsd)
        for problem in problems:
            print(problem)
        print("compared with %s: %d differences, %d elements whose minOccurs alone differs, %d types VMware's "
              "files lack (a superset is harmless)" % (args.compare_xsd, len(problems), len(optionality), len(extra)))
        return 1 if any(not problem.startswith("missing type") for problem in problems) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
