# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One error type for every backend, and the one place that turns it into a failed task.

A client module (``_vcenter``, ``_openstack``, ``_libvirt``) is the only code that knows
its SDK's exceptions; it raises ``BackendError`` with a one-line message that says what
to fix. Modules run their work inside ``failing_cleanly`` so that no SDK traceback and
no secret ever reaches the task result.
"""

from __future__ import annotations

import contextlib

MASK = "********"


class BackendError(Exception):
    """A failure talking to vCenter, OpenStack or libvirt, explained in one line."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


class MissingLibraryError(BackendError):
    """A Python library a backend needs is not importable on the managed node."""

    def __init__(self, library, pip_name, import_error):
        super().__init__(
            "The Python library %s is required but could not be imported (%s). "
            "Install it on the host that runs the module: pip install %s"
            % (library, import_error, pip_name)
        )


def one_line(text, secrets=()):
    """Collapse text to one line and mask every secret that appears in it."""
    text = " ".join(str(text).split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


@contextlib.contextmanager
def failing_cleanly(module):
    """Turn a BackendError raised inside the block into ``module.fail_json``."""
    try:
        yield
    except BackendError as error:
        module.fail_json(msg=str(error), **error.details)
