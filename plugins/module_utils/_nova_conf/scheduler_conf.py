# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nova-scheduler's filter and weigher lists: what its configuration files make of them, and the
edit of one file that adds (or removes) entries while keeping every other one (pure logic).

The three options of ``[filter_scheduler]``, as nova declares them (nova/conf/scheduler.py):

- ``available_filters``: a MultiStrOpt (one ``available_filters = X`` line per entry),
  default ``nova.scheduler.filters.all_filters``; oslo.config joins the values of every
  file that sets it;
- ``enabled_filters``: a ListOpt (comma-separated), nova's default list
  (``scheduler.DEFAULT_FILTERS``); the last file that sets it wins;
- ``weight_classes``: a ListOpt, default ``nova.scheduler.weights.all_weighers`` (a
  function that nova's loader expands to every weigher of nova); the last file wins.
"""

from __future__ import annotations

from .._common.errors import BackendError
from .conf_files import last_value
from .ini import IniError, edit, read, render_value
from .scheduler import enabled_filters

SECTION = "filter_scheduler"
ALL_FILTERS = "nova.scheduler.filters.all_filters"
ALL_WEIGHERS = "nova.scheduler.weights.all_weighers"
# A value no configuration holds, which the multi-valued edit replaces by the real lines.
_PLACEHOLDER = "@@nova_scheduler_conf:available_filters@@"


class SchedulerConfError(BackendError):
    """A change of the scheduler's lists that cannot be made as asked."""


def _split(value):
    return [item.strip() for item in value.split(",") if item.strip()]


def effective(conf_texts):
    """{available_filters, enabled_filters, weight_classes} as nova-scheduler reads them from
    the (name, text) pairs, in its order, with nova's defaults where no file sets them."""
    available = []
    for name, text in conf_texts:
        try:
            available.extend(read(text, SECTION).get("available_filters", []))
        except IniError as error:
            raise SchedulerConfError("%s is not a configuration file oslo.config can read: %s" % (name, error)) from None
    weighers, source = last_value(conf_texts, SECTION, "weight_classes")
    return dict(
        available_filters=available or [ALL_FILTERS],
        enabled_filters=enabled_filters(conf_texts)[0],
        weight_classes=_split(weighers) if source is not None else [ALL_WEIGHERS],
    )


def _with(items, added):
    return list(items) + [item for item in added if item not in items]


def _without(items, removed):
    return [item for item in items if item not in removed]


def wanted(current, request, present=True):
    """The lists the scheduler must end with.

    ``request``: available_filters, enabled_filters and weight_classes to add (present) or
    remove (absent); remove_weight_classes to remove (present) or put back (absent); and
    all_weighers, the classes ALL_WEIGHERS stands for on the scheduler's host, needed to take
    one of them out when the list has ALL_WEIGHERS (it is replaced by the classes but that one).
    """
    weighers = list(current["weight_classes"])
    if not present:
        weighers = _without(weighers, request["weight_classes"])
        if ALL_WEIGHERS not in weighers:
            weighers = _with(weighers, request["remove_weight_classes"])
        return dict(
            available_filters=_without(current["available_filters"], request["available_filters"]),
            enabled_filters=_without(current["enabled_filters"], request["enabled_filters"]),
            weight_classes=weighers,
        )
    if ALL_WEIGHERS in weighers and request["remove_weight_classes"]:
        if not request["all_weighers"]:
            raise SchedulerConfError(
                "weight_classes is %s, and %s stands for %s among others: give all_weighers, the classes it stands for on "
                "the scheduler's host (python -c 'from nova.scheduler import weights; print(weights.all_weighers())')"
                % (",".join(weighers), ALL_WEIGHERS, ", ".join(request["remove_weight_classes"])))
        at = weighers.index(ALL_WEIGHERS)
        weighers[at:at + 1] = [item for item in request["all_weighers"] if item not in weighers]
    return dict(
        available_filters=_with(current["available_filters"], request["available_filters"]),
        enabled_filters=_with(current["enabled_filters"], request["enabled_filters"]),
        weight_classes=_with(_without(weighers, request["remove_weight_classes"]), request["weight_classes"]),
    )


def plan(conf_texts, path, target):
    """The new text of the file ``path`` (one of the (name, text) pairs, the one edited) that
    makes nova-scheduler read the ``target`` lists. A list option that a file read after
    ``path`` sets cannot be changed from ``path``: that is an error naming the file."""
    names = [name for name, _text in conf_texts]
    later = conf_texts[names.index(path) + 1:]
    text = dict(conf_texts)[path]
    now = effective(conf_texts)
    changes = {}
    for key in ("enabled_filters", "weight_classes"):
        if target[key] == now[key]:
            continue
        _value, source = last_value(later, SECTION, key)
        if source is not None:
            raise SchedulerConfError("%s sets [%s] %s after %s, so nova-scheduler would not see the change: edit %s "
                                     "(path) instead" % (source, SECTION, key, path, source))
        changes[key] = ",".join(target[key])
    text = edit(text, SECTION, changes) if changes else text
    if target["available_filters"] != now["available_filters"]:
        text = _set_available(text, conf_texts, path, target["available_filters"], now["available_filters"])
    return text


def _set_available(text, conf_texts, path, target, now):
    """``text`` with path's own available_filters lines such that the files together give ``target``
    (kept entries of other files stay theirs: only path's lines change)."""
    own = read(text, SECTION).get("available_filters", [])
    others = [item for name, other in conf_texts if name != path for item in read(other, SECTION).get("available_filters", [])]
    if not own and not others:
        # Nothing set it: nova's default was in effect, and must stay available beside the new entries.
        own = [ALL_FILTERS]
    lines = _with(_without(own, [item for item in now if item not in target]), [item for item in target if item not in others])
    if lines == [ALL_FILTERS] and not others:
        lines = []
    if not lines:
        return edit(text, SECTION, {"available_filters": None})
    marked = edit(text, SECTION, {"available_filters": _PLACEHOLDER})
    line = "available_filters = %s" % _PLACEHOLDER
    after = marked[marked.index(line) + len(line):]
    eol = "\r\n" if after.startswith("\r\n") else after[:1] if after[:1] in ("\r", "\n") else "\n"
    return marked.replace(line, eol.join("available_filters = %s" % render_value(item) for item in lines), 1)
