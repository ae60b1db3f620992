"""Ship Drover's CRDs and manifests inside the wheel.

They live at the repository's root (`crds/` is written by `make crds`, `manifests/` is read by
kubectl users and by the Helm chart), so the wheel's build copies them under `mgmt/_data/`, where
`mgmt.bundled` finds them in an installed Drover. MANIFEST.in puts them in the sdist, which
`python -m build` builds the wheel from. An editable install reads them from the checkout.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("crds/*.yaml", "manifests/install/*.yaml", "manifests/samples/*.yaml")


class BuildWithBundle(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for pattern in BUNDLED:
            files = sorted(Path().glob(pattern))
            if not files:
                raise SystemExit(f"nothing matches {pattern}: the wheel would miss it")
            for path in files:
                target = Path(self.build_lib, "mgmt", "_data", path)
                self.mkpath(str(target.parent))
                self.copy_file(str(path), str(target))


setup(cmdclass={"build_py": BuildWithBundle})
