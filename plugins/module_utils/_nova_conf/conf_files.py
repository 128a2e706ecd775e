# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's configuration files read as oslo.config reads them: one option from several files, or the one file a module edits."""

from __future__ import annotations

import os

from .._common.errors import BackendError
from .ini import IniError, read


class ConfigFileError(BackendError):
    """A configuration file that cannot be read, or that oslo.config could not parse."""


def read_existing(paths):
    """[(path, text)] of the files that exist, in order; an unreadable one is an error."""
    texts = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as conf:
                texts.append((path, conf.read()))
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigFileError("Cannot read the configuration file %s: %s" % (path, error)) from None
    return texts


def last_value(conf_texts, section, key):
    """(value, file) from the last of the (file, text) pairs that sets ``key`` in ``section``
    (as with repeated --config-file), or (None, None) when none does."""
    found = (None, None)
    for name, text in conf_texts:
        try:
            values = read(text, section).get(key)
        except IniError as error:
            raise ConfigFileError("%s is not a configuration file oslo.config can read: %s" % (name, error)) from None
        if values:
            found = (values[-1], name)
    return found


def read_one(path):
    """The text and stat of the one config file a module edits, or ('', None) when it does not exist yet."""
    try:
        with open(path, "rb") as handle:
            data, info = handle.read(), os.fstat(handle.fileno())
    except FileNotFoundError:
        if not os.path.isdir(os.path.dirname(path)):
            raise ConfigFileError("The directory %s does not exist: create it (for a snippet, nova-compute must also be "
                                  "started with --config-dir pointing there) or choose another path." % os.path.dirname(path)) from None
        return "", None
    except IsADirectoryError:
        raise ConfigFileError("%s is a directory: name the file, e.g. %s/50-vmware.conf." % (path, path)) from None
    except OSError as error:
        raise ConfigFileError("Cannot read %s: %s." % (path, error.strerror)) from None
    try:
        return data.decode("utf-8"), info
    except UnicodeDecodeError as error:
        raise ConfigFileError("%s is not UTF-8 text (byte %d), which nova cannot read either." % (path, error.start)) from None
