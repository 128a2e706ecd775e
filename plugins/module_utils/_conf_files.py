# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One option of a service read from its configuration files, as oslo.config reads them."""

from __future__ import annotations

from ._errors import BackendError
from ._ini import IniError, read


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
