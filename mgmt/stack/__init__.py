"""The operator stack: render each Fleet's components per cluster, apply them with server-side
apply, keep them there (inventory, pruning, drift) and roll changes out across the fleet.

Choices worth knowing:
- Namespaces that objects need are created when missing but never listed in the inventory, so
  removing a component never deletes a namespace; a Namespace object a component declares is
  listed and pruned like any other object.
- Drift: one labelled LIST per kind and a subset comparison; a mismatch is confirmed with a
  dry-run apply (remembered per resourceVersion) before anything is written.
- Rollout: Kubernetes' rolling-update rule with clusters for pods (see `rollout`); first installs
  are never held back, not even by `paused`.
- A failed apply is retried after `retry_after` seconds (or at once when the revision changes).
"""

from .engine import MemberStack, MemberTarget, StackEngine

__all__ = ["MemberStack", "MemberTarget", "StackEngine"]
