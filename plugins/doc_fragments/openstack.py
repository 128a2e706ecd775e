# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors OPENSTACK_ARGUMENT_SPEC in plugins/module_utils/_openstack/client.py.
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - The name of a cloud in C(clouds.yaml), or a dict of all connection settings.
      - When a dict, the other connection options must not be given.
      - If not set, E(OS_CLOUD) is used; if that is unset too, the only cloud of the
        C(clouds.yaml) that E(OS_CLIENT_CONFIG_FILE) names (as AWX's OpenStack credential provides).
      - In a dict, the secrets (any setting named C(password), C(token), C(secret) or C(passcode),
        or ending in C(_password), C(_token), C(_secret) or C(_passcode), such as
        C(application_credential_secret)) are masked in the task's output at every verbosity;
        the other settings are shown.
    type: raw
  auth:
    description:
      - Authentication settings (C(auth_url), C(username), C(password), C(project_name), ...)
        for the chosen O(auth_type). Overrides those of O(cloud).
      - Its secrets are masked in the task's output as those of O(cloud) are; the URL, user and
        project names are not, so that error messages can name them.
    type: dict
  auth_type:
    description:
      - The keystoneauth plugin to authenticate with, such as V(password) or V(v3applicationcredential).
    type: str
  region_name:
    description:
      - The region whose endpoints to use.
    type: str
  validate_certs:
    description:
      - Whether to verify the TLS certificates of the APIs. Defaults to the cloud's setting, else V(true).
    type: bool
    aliases: [verify]
  ca_cert:
    description:
      - A CA bundle to verify the APIs' certificates with.
    type: str
    aliases: [cacert]
  client_cert:
    description:
      - A client certificate for mutual TLS.
    type: str
    aliases: [cert]
  client_key:
    description:
      - The key of O(client_cert).
    type: str
    aliases: [key]
  api_timeout:
    description:
      - Seconds a single API request may take.
    type: int
  interface:
    description:
      - Which endpoints of the catalog to use.
    type: str
    default: public
    choices: [public, internal, admin]
    aliases: [endpoint_type]
  timeout:
    description:
      - Seconds to wait for a long operation to finish.
    type: int
    default: 180
requirements:
  - openstacksdk >= 1.0.0
notes:
  - These options follow C(openstack.cloud), and the C(OS_*) environment variables work as
    with the C(openstack) command.
  - Every connection failure (unknown cloud, unreachable Keystone, untrusted certificate,
    wrong password, missing openstacksdk) fails the task with a one-line message that says
    what to fix; secrets never appear in it.
  - Every nova listing is read to its end, following nova's pages (nova returns at most
    C([api] max_limit) items, 1000 by default, at once).
"""
