"""What the integration tests share, imported as ``helpers.<module>``; conftest.py holds only fixtures.

- ``lab``: the lab's paths, its environment (``lab env``) and a clean environment for a run.
- ``playbook``: running collection modules on localhost, one task each: one a playbook (``run_module``),
  several in one (``run_modules``); their results come from the ``keep_results`` callback (``callback_plugins/``).
- ``vsphere``: the tests' own pyVmomi view of the lab's vCenter, and private simulators.
- ``awx``: running a playbook as AWX runs a job template (ansible-runner, credentials, leak scan).
- ``cloud``: the tests' own openstacksdk view of the lab's nova, the ``openstack`` CLI, a vSphere proxy of a private
  one-host vCenter (``vsphere_proxy``), proxy clean-up.
- ``migration``: the migration's sources (issue 16): the lab's guest image as a raw disk with a data file of the
  test's own, a VM nova does not manage and a nova instance on a vSphere proxy holding it, its ExportVm read-back.
"""
