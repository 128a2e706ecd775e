# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read and edit an INI file the way oslo.config reads it, touching only the keys asked for.

Text in, text out: no Ansible, no file access. The dialect is oslo.config's
(``oslo_config/iniparser.py`` and ``cfg.ConfigParser``), which differs from Python's
configparser in ways that matter when editing nova.conf:

- each line is right-stripped; an empty line ends a multi-line value;
- a line starting with a space or tab continues the previous value (an error when no
  value is open, so an indented comment after a key is part of its value);
- ``#`` or ``;`` in the first column starts a comment; there are no inline comments;
- ``[name]`` starts a section; names other than ``DEFAULT`` are compared in lower case
  and repeated sections merge, so ``[VMware]`` and a second ``[vmware]`` are one group;
- ``key = value`` or ``key: value`` splits at the first ``=`` or ``:``; key and value are
  stripped and one pair of matching surrounding quotes is removed; keys are case-sensitive;
- a repeated key keeps all its values, and a single-valued option takes the last.

Line endings, comments, blank lines, other sections and other keys pass through
byte for byte. ``$`` substitution is oslo.config's next layer, above this one.
"""

from __future__ import annotations

import re

# One line with its own ending (universal newlines, as oslo.config opens files), or a last
# line without one. Joining the matches gives back the text exactly.
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


class IniError(ValueError):
    """The text is not INI that oslo.config can read."""

    def __init__(self, index, reason, line):
        super().__init__("line %d: %s: %r" % (index + 1, reason, line.rstrip("\r\n")))


class _Assignment:
    """One ``key = value`` with its continuation lines, lines ``first`` to ``last``."""

    def __init__(self, group, key, index, value):
        self.group, self.key, self.first, self.last, self.parts = group, key, index, index, [value]

    @property
    def value(self):
        return "\n".join(self.parts)


def group_of(section):
    """The group a section header belongs to, as oslo.config normalises it."""
    return section if section == "DEFAULT" else section.lower()


def _split_assignment(text, index, line):
    equal, colon = text.find("="), text.find(":")
    if equal < 0 and colon < 0:
        raise IniError(index, "no '=' or ':' in an assignment", line)
    cut = equal if colon < 0 or 0 <= equal < colon else colon
    key, value = text[:cut].strip(), text[cut + 1:].strip()
    if not key:
        raise IniError(index, "empty key", line)
    if value and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return key, value


def _scan(lines):
    """The section headers (index, group) and assignments of ``lines``, in file order."""
    headers, assignments = [], []
    group = current = None
    for index, line in enumerate(lines):
        text = line.rstrip()
        if not text:
            current = None
        elif text.startswith((" ", "\t")):
            if current is None:
                raise IniError(index, "continuation line without a value to continue", line)
            current.parts.append(text.lstrip())
            current.last = index
        elif text.startswith("["):
            current = None
            if not text.endswith("]") or len(text) <= 2:
                raise IniError(index, "a section header must be [name]", line)
            group = group_of(text[1:-1])
            headers.append((index, group))
        elif text.startswith(("#", ";")):
            current = None
        else:
            if group is None:
                raise IniError(index, "assignment before the first section header", line)
            key, value = _split_assignment(text, index, line)
            current = _Assignment(group, key, index, value)
            assignments.append(current)
    return headers, assignments


def read(text, section):
    """Every value of every key of ``section``'s group: ``{key: [value, ...]}`` in file order."""
    values = {}
    for item in _scan(_LINES.findall(text))[1]:
        if item.group == group_of(section):
            values.setdefault(item.key, []).append(item.value)
    return values


def render_value(value):
    """``value`` as it must appear after ``key = `` for oslo.config to read it back unchanged."""
    if "\n" in value or "\r" in value:
        raise ValueError("a value cannot span lines")
    if value != value.strip() or (value and value[0] == value[-1] and value[0] in "\"'"):
        return '"%s"' % value
    return value


def edit(text, section, changes):
    """``text`` with each key of ``changes`` set (to a string) or removed (``None``) in ``section``.

    A key that is set ends with exactly one assignment: its last one (the one oslo.config
    uses) is rewritten in place unless it already holds the value, and earlier ones go.
    A new key goes after the last assignment of the section's last block, or into a new
    section appended at the end. Nothing else changes.
    """
    lines = _LINES.findall(text)
    headers, assignments = _scan(lines)
    group = group_of(section)
    eol = next((line[len(line.rstrip("\r\n")):] for line in lines if line.endswith(("\n", "\r"))), "\n")
    replace, drop, missing = {}, set(), []
    for key, value in changes.items():
        found = [item for item in assignments if item.group == group and item.key == key]
        keep = found[-1] if found and value is not None else None
        for item in found:
            if item is not keep:
                drop.update(range(item.first, item.last + 1))
        if keep is None:
            if value is not None:
                missing.append(_line(key, value))
        elif len(found) > 1 or keep.value != value:
            ending = lines[keep.last][len(lines[keep.last].rstrip("\r\n")):]
            replace[keep.first] = _line(key, value) + ending
            drop.update(range(keep.first + 1, keep.last + 1))

    blocks = [index for index, name in headers if name == group]
    anchor = None
    if missing and blocks:
        in_block = [item.last for item in assignments if item.first > blocks[-1] and item.group == group]
        anchor = max(in_block, default=blocks[-1])
    out = []
    for index, line in enumerate(lines):
        if index in replace:
            out.append(replace[index])
        elif index not in drop:
            out.append(line)
        if index == anchor:
            _insert(out, missing, eol)
    if missing and not blocks:
        blank = [""] if out and out[-1].strip() else []
        _insert(out, blank + ["[%s]" % section] + missing, eol)
    return "".join(out)


def _line(key, value):
    text = render_value(value)
    return "%s = %s" % (key, text) if text else "%s =" % key


def _insert(out, lines, eol):
    """Append ``lines`` to ``out``, ending first a last line that has no line ending."""
    if out and not out[-1].endswith(("\n", "\r")):
        out[-1] += eol
    out.extend(line + eol for line in lines)
