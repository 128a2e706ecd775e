# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A migration's durable record: a nova host aggregate of a unique name, its metadata the record.

``_migration/steps.py`` keeps the record as a flat dict of strings; this file keeps it in nova
(docs/migration-design.md, "Where progress is recorded"). The aggregate is named after the
source's vCenter instance UUID, so nova's unique aggregate names make creating it an atomic
claim (as ``recovery_claim.py`` does for HA recoveries); it holds no hosts, so no scheduler
filter sees it. Each write sends only what changed, a removed fact as null (nova deletes the
key), in one ``set_metadata`` call.
"""

from __future__ import annotations

from .._common.errors import BackendError
from . import nova

PREFIX = "mixed-cloud-migration:"


def record_name(migration_id):
    return PREFIX + migration_id


def record_of(aggregate):
    """(aggregate id, the record) of an aggregate of this kind."""
    return aggregate["id"], dict(aggregate.get("metadata") or {})


def find_record(aggregates, migration_id):
    found = [aggregate for aggregate in aggregates if aggregate["name"] == record_name(migration_id)]
    return record_of(found[0]) if found else (None, None)


def metadata_update(old, new):
    """What set_metadata must send to turn ``old`` into ``new``: changed keys, removed ones as None."""
    update = {key: value for key, value in new.items() if (old or {}).get(key) != value}
    update.update({key: None for key in old or {} if key not in new})
    return update


def claim(client, migration_id, record):
    """Create the record; (None, None) when another run created it first (nova refused the name)."""
    try:
        aggregate = nova.create_aggregate(client, record_name(migration_id))
    except BackendError:
        if find_record(nova.list_aggregates(client), migration_id)[0] is not None:
            return None, None
        raise
    try:
        aggregate = nova.aggregate_action(client, aggregate, "set_metadata", {"metadata": dict(record)},
                                          "record the claim of migration %s" % migration_id)
    except BackendError:
        # A record without its content would refuse every later run: undo it.
        nova.delete_aggregate(client, aggregate)
        raise
    return record_of(aggregate)


def write(client, aggregate_id, migration_id, old, new):
    """Turn the record ``old`` into ``new`` in nova (nothing sent when they are equal); the record after it."""
    update = metadata_update(old, new)
    if not update:
        return dict(new)
    aggregate = nova.aggregate_action(client, {"id": aggregate_id}, "set_metadata", {"metadata": update},
                                      "record the progress of migration %s" % migration_id)
    return record_of(aggregate)[1]


def delete(client, aggregate_id, migration_id):
    nova.delete_aggregate(client, {"id": aggregate_id, "name": record_name(migration_id)})
