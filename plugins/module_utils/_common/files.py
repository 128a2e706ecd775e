# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a file that holds secrets: atomically, with Ansible's common file arguments.

A module plans a ``FileUpdate`` (the content and the attributes the file must get) before
it writes anything, so that check mode and the diff tell the truth, then applies it. The
content goes into a temporary file in the same directory, which has its owner, group, mode
and SELinux context before it is renamed over the old file: no reader ever sees half a
file, or the new content under the old file's mode. The module is an
``AnsibleModule(add_file_common_args=True)``: owner, group, mode, seuser, serole, setype,
selevel, attributes and unsafe_writes are Ansible's own options, applied with Ansible's own
setters; ``secret_file_options`` gives their defaults for a file with secrets, and the
options ``backup`` and ``allow_world_access``.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import grp
import os
import pwd
import shutil
import stat
import tempfile
import time
import types

from .errors import BackendError

# The most a backup of a file with secrets is open: read and write for the owner, read for the group.
PRIVATE = 0o640
OTHERS = stat.S_IROTH | stat.S_IWOTH
SPECIAL = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX
# The errors of rename(2) after which unsafe_writes lets Ansible write a file in place (as atomic_move does).
IN_PLACE_ERRNOS = (errno.EPERM, errno.EXDEV, errno.EACCES, errno.ETXTBSY, errno.EBUSY)


class FileError(BackendError):
    """A file that cannot be read, planned or written, explained in one line."""


def secret_file_options(group, owner="root", mode="0640"):
    """The defaults of Ansible's owner, group and mode for a file with secrets, and this helper's options."""
    return dict(
        owner=dict(type="str", default=owner),
        group=dict(type="str", default=group),
        mode=dict(type="raw", default=mode),
        backup=dict(type="bool", default=False),
        allow_world_access=dict(type="bool", default=False),
    )


class Attributes(collections.namedtuple("Attributes", "uid gid mode context")):
    """A file's owner, group and permission bits, and its SELinux context (None without SELinux)."""

    @classmethod
    def of(cls, module, path, info):
        """The attributes of an existing file from its stat, or None when there is none."""
        if info is None:
            return None
        context = tuple(module.selinux_context(path)) if module.selinux_enabled() else None
        return cls(info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode), context)

    def describe(self):
        owner, group = self.uid, self.gid
        with contextlib.suppress(KeyError):
            owner = pwd.getpwuid(self.uid).pw_name
        with contextlib.suppress(KeyError):
            group = grp.getgrgid(self.gid).gr_name
        text = "owner %s, group %s, mode %04o" % (owner, group, self.mode)
        return text + (", context %s\n" % ":".join(part for part in self.context if part) if self.context else "\n")


def resolve_mode(module, mode, current):
    """The permission bits that ``mode`` (an int, an octal string, or symbolic such as u=rw,g=r,o=)
    gives a file whose mode is ``current``, refused when it is not a mode of a file."""
    if isinstance(mode, int):
        bits, label = mode, "%04o" % mode
    else:
        label = str(mode)
        try:
            bits = int(label, 8)
        except ValueError:
            try:
                if not label.strip():
                    raise ValueError(label)
                bits = module._symbolic_mode_to_octal(types.SimpleNamespace(st_mode=stat.S_IFREG | current), label)
            except ValueError:
                raise FileError("mode %r is neither octal such as '0640' nor symbolic such as 'u=rw,g=r,o='." % label) from None
            label = "%s (%04o)" % (label, bits)
    if not 0 <= bits <= 0o7777:
        raise FileError("mode %s is not the mode of a file, whose permission bits end at 07777: use e.g. '0640'." % label)
    if bits & SPECIAL:
        raise FileError("mode %s sets setuid, setgid or sticky, which a configuration file has no use for: use e.g. '0640'." % label)
    return bits, label


def lookup(kind, name, account_hint, unset):
    """The uid of an owner or the gid of a group, by name or number; ``unset`` when it is null."""
    if name is None:
        return unset
    if name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid if kind == "owner" else grp.getgrnam(name).gr_gid
    except KeyError:
        raise FileError("The %s %s does not exist on this host: %s, or set the %s option." % (
            "user" if kind == "owner" else kind, name, account_hint, kind)) from None


class FileUpdate:
    """What a file with secrets must become: its new content (None: it stays) and its attributes.

    Planned from the file's old content and stat (None when it does not exist) before
    anything is written; ``changed`` says whether applying it changes the file.
    """

    def __init__(self, module, path, info, old, new, account_hint="create it"):
        self.module = module
        self.path = path
        self.data = new if info is None or new != old else None
        self.before = Attributes.of(module, path, info)
        self.after = self._wanted(account_hint)
        self.changed = self.data is not None or self.before != self.after
        self.flags = {}

    def _wanted(self, account_hint):
        params, before = self.module.params, self.before or Attributes(os.geteuid(), os.getegid(), 0o600, None)
        bits, label = resolve_mode(self.module, before.mode if params["mode"] is None else params["mode"], before.mode)
        if bits & OTHERS and not params["allow_world_access"]:
            access = " and ".join(word for bit, word in ((stat.S_IROTH, "read"), (stat.S_IWOTH, "write")) if bits & bit)
            raise FileError("mode %s lets every user of this host %s %s, which holds secrets: use '0640' or '0600', or set "
                            "allow_world_access: true if that is what you mean." % (label, access, self.path))
        context = None
        if self.module.selinux_enabled():
            requested = self.module.load_file_common_arguments(params, path=self.path)["secontext"]
            current = self.before.context if self.before else self.module.selinux_default_context(self.path)
            context = tuple(have if want is None else want for have, want in zip(current, requested))
        return Attributes(lookup("owner", params["owner"], account_hint, before.uid),
                          lookup("group", params["group"], account_hint, before.gid), bits, context)

    def apply(self):
        """Write the planned content and attributes, except in check mode, and the chattr flags of the
        attributes option (which check mode only compares). Returns the backup's name, or None."""
        backup = None
        if not self.module.check_mode:
            if self.data is not None:
                backup = self._write()
            elif self.before != self.after:
                try:
                    self._set(self.path)
                except OSError as error:
                    raise FileError(self._failure("set the owner, group and mode of", error)) from None
        # After the rename: flags such as i (immutable) would forbid it.
        self.changed = self.module.set_attributes_if_different(self.path, self.module.params["attributes"], self.changed,
                                                               self.flags, expand=False)
        return backup

    def diff(self, header):
        """The attributes before and after, as one entry of a module's diff, or None when they stay."""
        if self.before is None or (self.before == self.after and not self.flags):
            return None
        before, after = self.before.describe(), self.after.describe()
        if self.flags:
            before += "attributes %s\n" % (self.flags["before"]["attributes"] or "none")
            after += "attributes %s\n" % self.flags["after"]["attributes"]
        return dict(before_header="%s: attributes" % header, after_header=header, before=before, after=after)

    def _set(self, path):
        """Give ``path`` the planned owner, group, mode and context with Ansible's own setters."""
        after = self.after
        self.module.set_fs_attributes_if_different(
            dict(path=path, owner=str(after.uid), group=str(after.gid), mode=after.mode, secontext=after.context,
                 attributes=None), False, expand=False)

    def _write(self):
        directory, name = os.path.split(self.path)
        temp = backup = None
        try:
            # Hidden and outside *.conf (nova reads every *.conf of a --config-dir); mkstemp makes it 0600.
            handle, temp = tempfile.mkstemp(dir=directory, prefix=".%s." % name, suffix=".tmp")
            with os.fdopen(handle, "wb") as stream:
                stream.write(self.data)
                stream.flush()
                os.fsync(stream.fileno())
            self._set(temp)
            if self.module.params["backup"] and self.before is not None:
                backup = "%s.%d.%s" % (self.path, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S~"))
                self._copy_private(backup)
            try:
                os.replace(temp, self.path)
                temp = None
            except OSError as error:
                if not (self.module.params["unsafe_writes"] and error.errno in IN_PLACE_ERRNOS):
                    raise
                self._write_in_place()
            # Make the rename durable before the service is restarted on the new file.
            directory_handle = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(directory_handle)
            finally:
                os.close(directory_handle)
        except BaseException as error:
            remove(backup)
            if isinstance(error, OSError):
                raise FileError(self._failure("write", error)) from None
            raise
        finally:
            remove(temp)
        return backup

    def _copy_private(self, backup):
        """Copy the old file to ``backup``, no more open than the new file and never more than PRIVATE."""
        with open(self.path, "rb") as old:
            with os.fdopen(os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as copy:
                shutil.copyfileobj(old, copy)
                copy.flush()
                os.fchown(copy.fileno(), self.after.uid, self.after.gid)
                os.fchmod(copy.fileno(), self.before.mode & self.after.mode & PRIVATE)
                os.fsync(copy.fileno())

    def _write_in_place(self):
        """unsafe_writes, for a file that cannot be replaced (one bind-mounted into a container): attributes
        first, so the new content is never under the old mode, then the content."""
        self._set(self.path)
        with open(self.path, "wb") as stream:
            stream.write(self.data)
            stream.flush()
            os.fsync(stream.fileno())

    def _failure(self, action, error):
        hint = ""
        if error.errno == errno.EPERM and "i" in self.module.get_file_attributes(self.path, False).get("attr_flags", ""):
            hint = " (it is immutable: chattr -i it first)"
        return "Cannot %s %s: %s%s." % (action, self.path, error.strerror or error, hint)


def remove(path):
    """Delete a file this helper made, if it is still there."""
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
