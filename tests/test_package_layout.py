"""The production package stands apart from the development tooling and has no import circles."""

import subprocess
import sys


def imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    return set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                              text=True).stdout.split())


def test_the_controller_never_imports_the_development_tooling():
    modules = imported_after("import mgmt.controller.main, mgmt.cli, mgmt.install, mgmt.stack.engine")
    assert "mgmt.controller.main" in modules
    assert not {m for m in modules if m == "devtools" or m.startswith("devtools.")}


def test_the_crd_generator_knows_no_kinds():
    modules = imported_after("import mgmt.api.crdgen")
    assert not {"mgmt.api.kinds", "providers.local.api", "mgmt.api.generate"} & modules
