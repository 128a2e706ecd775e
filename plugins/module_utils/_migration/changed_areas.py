# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Warm mode's changed areas of a disk: QueryChangedDiskAreas paged to the end of the disk.

One answer of ``QueryChangedDiskAreas(snapshot, deviceKey, startOffset, changeId)`` covers a
window from ``startOffset`` (``startOffset`` and ``length`` of the answer) and lists the changed
areas in it. **A window without changes is a normal answer anywhere in the disk**, not its
end: the tools that stop at the first empty answer miss every change after it (issue 16). So
``changed_areas`` asks again from the end of each window until the window reaches the disk's
capacity, and refuses an answer that does not move forward (it would loop) or lists an area
outside its window.
"""

from __future__ import annotations

from .._common.errors import BackendError


def changed_areas(query, capacity):
    """Every changed area of a disk of ``capacity`` bytes, as sorted, merged (start, length) pairs.

    ``query(start_offset)`` returns one answer as plain data: {"start_offset", "length",
    "areas": [(start, length), ...]}.
    """
    offset, areas, windows = 0, [], 0
    while offset < capacity:
        answer = query(offset)
        windows += 1
        start, length = answer["start_offset"], answer["length"]
        if start != offset or length <= 0:
            raise BackendError("QueryChangedDiskAreas from byte %d answered a window at %d of %d bytes: it does not "
                               "go on from where it was asked, so the disk cannot be paged to its end." % (
                                   offset, start, length))
        for area_start, area_length in answer["areas"]:
            if area_start < start or area_start + area_length > start + length:
                raise BackendError("QueryChangedDiskAreas listed an area (%d, %d) outside its window (%d, %d)." % (
                    area_start, area_length, start, length))
            areas.append((area_start, area_length))
        offset = start + length
    return merged(areas), windows


def merged(areas):
    """Sorted areas with overlapping or touching ones joined."""
    out = []
    for start, length in sorted(areas):
        if out and start <= out[-1][0] + out[-1][1]:
            last_start, last_length = out[-1]
            out[-1] = (last_start, max(last_length, start + length - last_start))
        else:
            out.append((start, length))
    return out


def total(areas):
    return sum(area[1] for area in areas)
