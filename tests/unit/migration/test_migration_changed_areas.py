"""Warm mode's changed areas: paged to the end of the disk, past empty windows."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration.changed_areas import (
    changed_areas, merged, total)

MIB = 1 << 20
WINDOW = 512 * MIB
CAPACITY = 2048 * MIB


def simulator(changes, window=WINDOW, capacity=CAPACITY):
    """Answers as the lab's QueryChangedDiskAreas does: one window from the offset, its areas."""
    asked = []

    def query(offset):
        asked.append(offset)
        length = min(window, capacity - offset)
        areas = [(s, n) for s, n in changes if offset <= s < offset + length]
        return {"start_offset": offset, "length": length, "areas": areas}

    return query, asked


def test_a_change_past_three_empty_windows_is_found():
    late = (CAPACITY - 100 * MIB, 65536)
    query, asked = simulator([late])
    areas, windows = changed_areas(query, CAPACITY)
    assert areas == [late] and windows == 4
    assert asked == [0, WINDOW, 2 * WINDOW, 3 * WINDOW]  # the anchors' loop stops after the first


def test_areas_of_several_windows_are_merged():
    query = simulator([(0, 65536), (65536, 65536), (WINDOW + 5, 10), (WINDOW + 7, 100)])[0]
    areas, windows = changed_areas(query, CAPACITY)
    assert areas == [(0, 131072), (WINDOW + 5, 102)]
    assert total(areas) == 131174 and windows == 4
    assert merged([]) == []


def test_answers_that_do_not_page_are_refused():
    with pytest.raises(BackendError, match="does not go on from where it was asked"):
        changed_areas(lambda offset: {"start_offset": offset, "length": 0, "areas": []}, CAPACITY)
    with pytest.raises(BackendError, match="does not go on"):
        changed_areas(lambda offset: {"start_offset": 0, "length": WINDOW, "areas": []}, CAPACITY)
    with pytest.raises(BackendError, match="outside its window"):
        changed_areas(lambda offset: {"start_offset": offset, "length": WINDOW, "areas": [(offset + WINDOW, 1)]},
                      CAPACITY)
