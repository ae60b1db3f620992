"""The Fleet controller: kopf handlers, and the per-fleet runtime they drive."""
