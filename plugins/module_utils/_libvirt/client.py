# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt client: a read-only connection to a KVM host's libvirtd, clear errors."""

from __future__ import annotations

import contextlib

from .._common.errors import BackendError, MissingLibraryError, one_line

try:
    import libvirt
except ImportError as import_error:
    LIBVIRT_IMPORT_ERROR = import_error
else:
    LIBVIRT_IMPORT_ERROR = None

LIBVIRT_ARGUMENT_SPEC = dict(
    uri=dict(type="str", default="qemu:///system"),
)


def libvirt_argument_spec(**module_options):
    """The connection options merged with a module's own options."""
    spec = dict(LIBVIRT_ARGUMENT_SPEC)
    spec.update(module_options)
    return spec


class LibvirtConnectionError(BackendError):
    """Anything that went wrong between the module and libvirtd."""


def _explain(uri, error):
    code = error.get_error_code()
    detail = error.get_error_message() or str(error)
    if code == libvirt.VIR_ERR_NO_CONNECT and "no connection driver" in detail:
        text = "libvirt has no driver for URI %s (%s): check the uri option." % (uri, detail)
    elif code in (libvirt.VIR_ERR_AUTH_FAILED, libvirt.VIR_ERR_AUTH_CANCELLED, libvirt.VIR_ERR_AUTH_UNAVAILABLE):
        text = "libvirt at %s refused authentication (%s): check the credentials for that URI." % (uri, detail)
    elif code == libvirt.VIR_ERR_SYSTEM_ERROR or "Failed to connect socket" in detail:
        text = ("Cannot reach libvirtd at %s (%s): is libvirtd (or virtqemud) running on that host and is the "
                "URI right?" % (uri, detail))
    else:
        text = "libvirt connection to %s failed: %s" % (uri, detail)
    return LibvirtConnectionError(one_line(text))


@contextlib.contextmanager
def libvirt_session(params):
    """A read-only libvirt connection, closed when the block ends."""
    if LIBVIRT_IMPORT_ERROR is not None:
        raise MissingLibraryError("libvirt-python", "libvirt-python", LIBVIRT_IMPORT_ERROR)
    uri = params.get("uri") or "qemu:///system"
    # libvirt prints connection errors on stderr by default; they are reported in msg instead.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    try:
        connection = libvirt.openReadOnly(uri)
    except libvirt.libvirtError as error:
        raise _explain(uri, error)
    try:
        yield connection
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            connection.close()


def libvirt_call(uri, what, function, *args):
    """Call a libvirt API, turning libvirtError into LibvirtConnectionError."""
    try:
        return function(*args)
    except libvirt.libvirtError as error:
        raise LibvirtConnectionError(one_line("libvirt at %s failed to %s: %s" % (uri, what, error)))
