"""Build Drover's controller image with no container engine and no registry (`make image`).

    python image/build.py [OUT]     OUT/oci (an OCI image layout) and OUT/drover-<version>.oci.tar

What image/Containerfile does with Docker, done with Debian's tools as root:
  1. the wheel, by `python -m build`;
  2. a root filesystem of Debian packages (python3-venv, ca-certificates) by `mmdebstrap`, whose
     hooks install the wheel into /opt/drover (pip, from the package index), drop pip, add helm
     (the one `make tools` built) and the drover user (65532), and trim docs and apt's lists;
  3. that filesystem as the one layer of an OCI image, by `umoci`, configured with the
     Containerfile's USER, ENV, WORKDIR, LABEL, ENTRYPOINT and CMD (one source for both recipes).

The Debian sources are the host's apt sources ($MIRROR overrides: anything mmdebstrap takes).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONTAINERFILE = REPO / "image" / "Containerfile"
SUITE = "bookworm"
PACKAGES = "python3-venv,ca-certificates"


def run(*argv: str) -> None:
    print("+", " ".join(shlex.quote(a) for a in argv), flush=True)
    subprocess.run(argv, check=True)


def build_wheel(tmp: Path) -> Path:
    run(sys.executable, "-m", "build", "--outdir", str(tmp / "dist"), str(REPO))
    (wheel,) = (tmp / "dist").glob("drover-*.whl")
    return wheel


def helm_binary() -> Path:
    sys.path.insert(0, str(REPO))
    from devtools.toolchain import binary

    return Path(binary("helm")).resolve()


def mirrors() -> list[str]:
    if os.environ.get("MIRROR"):
        return [os.environ["MIRROR"]]
    found = sorted(glob.glob("/etc/apt/sources.list.d/*.sources")) + \
        [p for p in ["/etc/apt/sources.list"] if Path(p).is_file() and Path(p).read_text().strip()]
    if not found:
        raise SystemExit("no apt sources on this host: set MIRROR to a Debian mirror")
    return found


def dependency_wheels(tmp: Path, wheel: Path) -> Path:
    """The wheel and every dependency's, fetched by this host's pip (its index, proxy and CAs),
    so that the install inside the root filesystem needs no network. Same CPU and the same
    CPython minor version (3.11) as bookworm's, so the same wheels fit."""
    wheels = tmp / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(wheels), str(wheel))
    return wheels


def root_filesystem(tmp: Path, wheel: Path, helm: Path) -> Path:
    """The image's root filesystem as a tar archive."""
    tarball = tmp / "rootfs.tar"
    wheels = dependency_wheels(tmp, wheel)
    venv_pip = "/opt/drover/bin/pip"
    hooks = [
        f"copy-in {wheels} {helm} /tmp",
        'chroot "$1" python3 -m venv /opt/drover',
        (f'chroot "$1" {venv_pip} install --isolated --no-index --find-links /tmp/wheels '
         f'--disable-pip-version-check -q /tmp/wheels/{wheel.name}'),
        f'chroot "$1" {venv_pip} uninstall -y -q pip setuptools',
        f'mv "$1/tmp/{helm.name}" "$1/usr/local/bin/helm"',
        'rm -r "$1/tmp/wheels"',
        "echo 'drover:x:65532:65532:Drover:/var/lib/drover:/usr/sbin/nologin' >> \"$1/etc/passwd\"",
        "echo 'drover:x:65532:' >> \"$1/etc/group\"",
        'install -d -o 65532 -g 65532 "$1/var/lib/drover"',
        ('rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/usr/share/doc/* "$1"/usr/share/man/* '
        '"$1"/usr/share/info/* "$1"/usr/share/locale/*'),
    ]
    run("mmdebstrap", "--variant=essential", f"--include={PACKAGES}", "--quiet",
        *(f"--customize-hook={hook}" for hook in hooks), SUITE, str(tarball), *mirrors())
    return tarball


def containerfile_config(version: str) -> list[str]:
    """umoci config flags from the Containerfile's USER, ENV, WORKDIR, LABEL, ENTRYPOINT, CMD."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text()).replace("${VERSION}", version)
    flags = []
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "USER":
            flags.append(f"--config.user={rest}")
        elif word == "WORKDIR":
            flags.append(f"--config.workingdir={rest}")
        elif word in ("ENV", "LABEL"):
            key, _, value = rest.partition("=")
            flag = "env" if word == "ENV" else "label"
            flags.append(f"--config.{flag}={key}={shlex.split(value)[0] if value else ''}")
        elif word in ("ENTRYPOINT", "CMD"):
            flags += [f"--config.{word.lower()}={arg}" for arg in json.loads(rest)]
    return flags


def oci_image(out: Path, rootfs: Path, version: str) -> Path:
    layout = out / "oci"
    image = f"{layout}:{version}"
    run("umoci", "init", "--layout", str(layout))
    run("umoci", "new", "--image", image)
    run("umoci", "raw", "add-layer", "--image", image, "--history.created_by=image/build.py (mmdebstrap)",
        str(rootfs))
    run("umoci", "config", "--image", image, "--no-history", "--os=linux", "--architecture=amd64",
        *containerfile_config(version))
    run("umoci", "gc", "--layout", str(layout))
    archive = out / f"drover-{version}.oci.tar"
    run("tar", "-C", str(layout), "-cf", str(archive), ".")
    return archive


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else REPO / "dist" / "image").resolve()
    if out.exists() and any(out.iterdir()):
        run("rm", "-rf", str(out))
    out.mkdir(parents=True, exist_ok=True)
    helm = helm_binary()
    with tempfile.TemporaryDirectory(prefix="drover-image-") as tmp:
        wheel = build_wheel(Path(tmp))
        version = wheel.name.split("-")[1]
        archive = oci_image(out, root_filesystem(Path(tmp), wheel, helm), version)
    print(f"wrote {archive} ({archive.stat().st_size / 2**20:.0f} MiB) and the layout {out / 'oci'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
