#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nova_vmware_conf
short_description: Write nova's VMware driver settings into a nova config file
version_added: 0.1.0
description:
  - Sets C([DEFAULT] compute_driver = vmwareapi.VMwareVCDriver) and the given C([vmware])
    options in a nova config file, either the main C(nova.conf) or a snippet in a
    C(--config-dir) directory such as C(/etc/nova/nova.conf.d/). Options that are not given
    keep whatever the file says; nova applies its own default where the file says nothing.
  - Edits the file the way oslo.config reads it (no inline comments, continuation lines,
    C([VMware]) and C([vmware]) being one section, the last of repeated keys winning,
    C($) substitution). Every other section, key, comment, blank line and line ending stays
    byte for byte; a managed key that appears several times ends up once, where nova read it.
  - Checks the values against nova's own types and ranges, and the result for settings nova
    would reject or ignore, before it writes anything.
  - Writes atomically (a temporary file in the same directory, given its owner, group, mode
    and SELinux context before it is renamed over the old one), so nova never reads half a
    file and the password is never in a file that others can read. Ansible's common file
    options (O(owner), O(group), O(mode), O(seuser), O(serole), O(setype), O(selevel),
    O(attributes), O(unsafe_writes)) apply as in M(ansible.builtin.copy).
  - With O(validate=true), first logs in to vCenter with the settings the file will hold and
    fails, writing nothing, unless the cluster exists and O(datastore_regex) matches a
    datastore that every connected host of the cluster mounts.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  path:
    description:
      - The nova config file to write. Its directory must exist.
      - A snippet in a C(--config-dir) directory must end in C(.conf) to be read, and
        overrides what the files read before it say.
      - A symbolic link is followed, so the file it points to is written.
    type: path
    default: /etc/nova/nova.conf
  state:
    description:
      - V(present) writes the settings; V(absent) removes every C([vmware]) option nova knows
        and C(compute_driver) if it names the VMware driver, leaving the rest of the file alone.
    type: str
    choices: [present, absent]
    default: present
  owner:
    description: Owner of the file, a user name or uid.
    type: str
    default: root
  group:
    description:
      - Group of the file, which nova-compute reads it through.
      - The task fails if the group does not exist on the host (it does once nova is installed).
    type: str
    default: nova
  mode:
    description:
      - Permissions of the file, octal such as V('0640') or symbolic such as V('u=rw,g=r,o=');
        a symbolic mode changes the file's current mode (V('0600') for a new file), as C(chmod) does.
      - The file holds the vCenter password, so a mode that lets others (users that are neither
        the owner nor in the group) read or write it is refused unless O(allow_world_access=true).
      - Setuid, setgid, sticky and anything beyond V('07777') are refused, as no mode of a
        configuration file.
    type: raw
    default: '0640'
  allow_world_access:
    description:
      - Accept a O(mode) that lets every user of the host read or write the file, and so the
        vCenter password. Only for a host where that is what you mean.
    type: bool
    default: false
  backup:
    description:
      - Keep a timestamped copy of the file before changing its content.
      - The copy holds the old password, so it gets the new file's owner and group and a mode
        no more open than the old file's, the new file's, or V('0640'). No copy is left behind
        when the file cannot be written.
    type: bool
    default: false
  validate:
    description:
      - Before writing, log in to the vCenter that the resulting file names (O(host_ip),
        O(host_port), O(host_username), O(host_password), O(ca_file) or O(insecure); taken from
        the file when not given), and fail, writing nothing, unless O(cluster_name) is exactly
        one cluster with connected hosts and O(datastore_regex) matches, as nova matches it, a
        datastore that all of them mount. The result's RV(validation) says what was found.
      - Needs pyVmomi on the host that runs the module. Ignored when O(state=absent).
    type: bool
    default: false
  wsdl_location:
    description:
      - Accepted because old guides set it, and never written. Nova removed the option in
        2017; oslo.vmware always loads the WSDL from C(https://<host_ip>:<host_port>/sdk/vimService.wsdl).
        The task warns when it is given, or when the file still has it.
    type: str
  host_ip:
    description: Host name or IP address of vCenter.
    type: str
  host_port:
    description: HTTPS port of vCenter. Nova's default is 443.
    type: int
  host_username:
    description: User nova logs in to vCenter as.
    type: str
  host_password:
    description:
      - Password of O(host_username). Never logged, returned or shown in a diff.
    type: str
  ca_file:
    description:
      - Path, on the nova-compute host, of the CA bundle to verify vCenter's certificate
        against. When set, nova ignores O(insecure).
    type: str
  insecure:
    description:
      - Do not verify vCenter's certificate. Nova's default is V(false), which verifies it
        against the system's trust store. Cannot be V(true) together with O(ca_file).
    type: bool
  api_retry_count:
    description: How often nova retries a vCenter call on connection failures. Nova's default is 10; at least 0.
    type: int
  connection_pool_size:
    description: Maximum HTTP connections from nova to vCenter. Nova's default is 10, which is also the minimum.
    type: int
  task_poll_interval:
    description: Seconds between polls of a vCenter task. Nova's default is 0.5.
    type: float
  cluster_name:
    description:
      - The one vCenter cluster this nova-compute drives (one nova-compute per cluster since
        Liberty). A list is refused.
    type: raw
  datastore_regex:
    description:
      - Python regular expression for the datastores nova may place instances on, matched at
        the start of the name (nova uses C(re.match)). Without it, nova takes the datastore
        with the most free space.
    type: str
  use_linked_clone:
    description: Boot instances as linked clones of the cached image. Nova's default is V(true).
    type: bool
  cache_prefix:
    description: Prefix of the folder that caches images on the datastore, for caches shared between nova-computes.
    type: str
  maximum_objects:
    description: Objects vCenter returns per page of a query. Nova's default is 100; at least 0.
    type: int
  pbm_enabled:
    description: Place disks by storage policy (SPBM) instead of O(datastore_regex). Nova's default is V(false).
    type: bool
  pbm_wsdl_location:
    description: Location of the PBM service WSDL, when it is not the one vCenter serves.
    type: str
  pbm_default_policy:
    description: Storage policy used when an instance has none. Required when O(pbm_enabled=true).
    type: str
  vnc_port:
    description: First VNC port of the consoles of instances. Nova's default is 5900.
    type: int
  vnc_port_total:
    description: Number of VNC ports. Nova's default is 10000; at least 0.
    type: int
  vnc_keymap:
    description: Keyboard layout of VNC consoles. Nova's default is V(en-us).
    type: str
  console_delay_seconds:
    description: Delay added to remote console keystrokes, against repeated characters on slow links. At least 0.
    type: int
  serial_port_service_uri:
    description: Where the virtual serial ports of instances send their output (a virtual serial port concentrator).
    type: str
  serial_port_proxy_uri:
    description: A C(telnet://) or C(telnets://) URI of a proxy in front of O(serial_port_service_uri).
    type: str
  serial_log_dir:
    description: Directory of the concentrator's console logs. Nova's default is C(/opt/vmware/vspc).
    type: str
  integration_bridge:
    description: Integration bridge on the ESXi hosts; only for the NSX-MH neutron plugin.
    type: str
notes:
  - Nova reads the option values with oslo.config, which this module mirrors; the
    collection's tests read written files back through nova's own option definitions.
  - Of several config files, the last one nova-compute reads wins. Ubuntu's nova-compute
    package reads C(/etc/nova/nova-compute.conf) after C(nova.conf) and sets
    C(compute_driver) there, so write that file (or a later C(--config-dir) snippet) on Ubuntu.
  - The diff shows C([DEFAULT] compute_driver) and the C([vmware]) section only, with the
    password masked, because the rest of C(nova.conf) holds other secrets (database,
    message queue, keystone) that have no place in a task log. It is always returned, and
    shown under C(--diff).
  - O(attributes) are set after the new file is in place (an immutable file cannot be
    replaced), and the task fails, naming C(chattr -i), when the file is immutable.
requirements:
  - pyvmomi >= 8.0.1, only for O(validate=true)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    details: With O(validate=true), check mode logs in to vCenter too; that only reads.
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Make this host the nova-compute proxy of Cluster-A
  nova_vsphere.mixed_cloud.nova_vmware_conf:
    path: /etc/nova/nova.conf.d/50-vmware.conf
    host_ip: vcenter.example.com
    host_username: nova@vsphere.local
    host_password: "{{ vault_nova_vcenter_password }}"
    ca_file: /etc/nova/vcenter-ca.pem
    cluster_name: Cluster-A
    datastore_regex: "^nfs-a$"
    validate: true
  notify: Restart nova-compute

- name: Stop configuring the VMware driver in nova.conf
  nova_vsphere.mixed_cloud.nova_vmware_conf:
    path: /etc/nova/nova.conf
    state: absent
    backup: true
"""

RETURN = r"""
path:
  description: The file written.
  returned: always
  type: str
  sample: /etc/nova/nova.conf.d/50-vmware.conf
backup_file:
  description: The copy made of the file before it changed.
  returned: when O(backup=true) and the content changed
  type: str
  sample: /etc/nova/nova.conf.1234.2026-01-02@03:04:05~
validation:
  description: What vCenter showed for the settings, when O(validate=true).
  returned: when O(validate=true) and O(state=present)
  type: dict
  contains:
    vcenter:
      description: The vCenter endpoint logged in to.
      type: str
      sample: vcenter.example.com:443
    cluster:
      description: The cluster name.
      type: str
    cluster_moid:
      description: The cluster's managed object id, the first half of nova's node name.
      type: str
      sample: domain-c7
    connected_hosts:
      description: The cluster's connected hosts.
      type: list
      elements: str
    datastores:
      description:
        - The datastores nova may use there (matching, of a supported type, mounted on every
          connected host), most free space first, which is the one nova picks.
        - Each has C(name), C(type), C(free_mb) and C(capacity_mb).
      type: list
      elements: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._common.argspec import compose
from ..module_utils._common.errors import failing_cleanly
from ..module_utils._common.files import FileUpdate, secret_file_options
from ..module_utils._nova_conf.conf_files import read_one
from ..module_utils._nova_conf.ini import IniError, read as read_ini
from ..module_utils._nova_conf.vmware_cluster import cluster_datastores, find_nova_cluster
from ..module_utils._nova_conf.vmware_options import OPTIONS, SECTION, WSDL_REMOVED, ConfigError, plan, vcenter_params, view
from ..module_utils._vcenter.client import managed_object_types, vcenter_session
from ..module_utils._vcenter.cluster_reads import read_cluster_config, read_cluster_datastores
from ..module_utils._vcenter.reads import read_hosts, read_locations


def argument_spec():
    vmware = {name: dict(type=option.kind, no_log=option.secret) for name, option in OPTIONS.items()}
    # raw, so that a list (one nova-compute per cluster was not always the rule) is refused, not stringified.
    vmware["cluster_name"]["type"] = "raw"
    return compose(
        secret_file_options(group="nova"), vmware,
        path=dict(type="path", default="/etc/nova/nova.conf"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        validate=dict(type="bool", default=False),
        wsdl_location=dict(type="str"),
    )


def requested(module, path):
    """The [vmware] options given, with the warnings about what the task asks."""
    given = {name: module.params[name] for name in OPTIONS if module.params[name] is not None}
    if isinstance(given.get("cluster_name"), (list, dict)):
        raise ConfigError("cluster_name takes one cluster: a nova-compute drives exactly one (run one per cluster).")
    if "cluster_name" in given:
        given["cluster_name"] = str(given["cluster_name"])
    if module.params["wsdl_location"] is not None:
        module.warn("wsdl_location is not written: %s." % WSDL_REMOVED)
    if os.path.basename(os.path.dirname(path)).endswith(".d") and not path.endswith(".conf"):
        module.warn("%s does not end in .conf: oslo.config reads only *.conf files from a --config-dir." % path)
    return given


def validate(values):
    """Log in as nova will, and check the cluster and its datastores."""
    with vcenter_session(vcenter_params(values)) as client:
        cluster = find_nova_cluster(*read_locations(client), values["cluster_name"])
        # Nova looks only at the datastores the cluster lists (ds_util.get_datastore).
        moids = read_cluster_config(client, cluster["moid"])["datastores"]
        hosts = read_hosts(client, root=client.ref(managed_object_types().ClusterComputeResource, cluster["moid"]))
        found = cluster_datastores(cluster, values.get("datastore_regex"), hosts, read_cluster_datastores(client, moids))
        found["vcenter"] = client.endpoint
    return found


def diff(path, old, new, update):
    """The managed settings before and after (no other section's secrets), then the attributes if they change."""
    secret_changed = read_ini(old, SECTION).get("host_password") != read_ini(new, SECTION).get("host_password")
    diffs = [dict(before_header="%s: compute_driver and [vmware]" % path, after_header=path,
                  before=view(old) if update.before else "", after=view(new, secret_changed))]
    attributes = update.diff(path)
    return diffs + [attributes] if attributes else diffs


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, add_file_common_args=True)
    path = os.path.realpath(module.params["path"])
    present = module.params["state"] == "present"
    with failing_cleanly(module):
        given = requested(module, path)
        old, info = read_one(path)
        if info is None and not present:
            module.exit_json(changed=False, path=path, diff=[])
        try:
            new, values, warnings = plan(old, given, present)
        except IniError as error:
            raise ConfigError("%s %s: nova cannot read this file either; fix that line first." % (path, error)) from None
        for warning in warnings:
            module.warn(warning)
        update = FileUpdate(module, path, info, old.encode("utf-8"), new.encode("utf-8"), account_hint="install nova first")
        result = dict(path=path)
        if module.params["validate"] and present:
            result["validation"] = validate(values)
        result["backup_file"] = update.apply()
        result["diff"] = diff(path, old, new, update)
    module.exit_json(changed=update.changed, **{key: value for key, value in result.items() if value is not None})


if __name__ == "__main__":
    main()
