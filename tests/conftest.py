"""Make the collection importable as ansible_collections.nova_vsphere.mixed_cloud."""

import sys
from pathlib import Path

COLLECTIONS = Path(__file__).resolve().parents[1] / "build" / "collections"
if not (COLLECTIONS / "ansible_collections" / "nova_vsphere" / "mixed_cloud").exists():
    raise RuntimeError("Run tests/setup.sh first: it links the collection into build/collections.")
sys.path.insert(0, str(COLLECTIONS))
