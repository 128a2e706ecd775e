"""The unit tests, laid out as plugins/module_utils is (common, vcenter, openstack, libvirt, nova_conf, migration,
qemu_img), plus the lab's and the collection's own files (lab, collection).

Test input that several files share lives once in ``samples`` (tests/unit/samples/). This conftest.py
is what makes it importable: outside any package, its directory goes on sys.path (pytest's default
"prepend" import mode). No test file imports another.
"""
