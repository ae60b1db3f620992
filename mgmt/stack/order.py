"""The order in which a stack's components are applied (`dependsOn`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def apply_order(depends: Mapping[str, Sequence[str]]) -> tuple[list[str], dict[str, str]]:
    """Topological order of the components (the earliest declared ready one goes next), and an
    error message for every component that cannot be ordered: one naming an unknown dependency,
    one in (or depending on) a cycle."""
    errors: dict[str, str] = {}
    for name, deps in depends.items():
        unknown = [d for d in deps if d not in depends]
        if unknown:
            errors[name] = f"dependsOn names unknown component(s): {', '.join(unknown)}"
    for cycle in _cycles(depends):
        text = " -> ".join([*cycle, cycle[0]])
        for name in cycle:
            errors.setdefault(name, f"dependsOn cycle: {text}")
    order: list[str] = []
    pending = [n for n in depends if n not in errors]
    while pending:
        name = next((n for n in pending if all(d in order or d in errors for d in depends[n])), None)
        if name is None:  # only cycles block here (normally already named above)
            for left in pending:
                errors[left] = f"dependsOn cycle through {left}"
            break
        pending.remove(name)
        blocked = [d for d in depends[name] if d in errors]
        if blocked:
            errors[name] = f"depends on {', '.join(blocked)}, which cannot be applied"
        else:
            order.append(name)
    return order, errors


def _cycles(depends: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each elementary cycle found by a depth-first walk (one per strongly connected group)."""
    cycles, state, stack = [], {}, []

    def visit(name: str) -> None:
        state[name] = "open"
        stack.append(name)
        for dep in depends.get(name, ()):
            if dep not in depends:
                continue
            if state.get(dep) == "open":
                cycles.append(stack[stack.index(dep):])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[name] = "done"

    for name in depends:
        if name not in state:
            visit(name)
    return cycles
