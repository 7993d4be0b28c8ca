"""Build the installable onedir bundle: `python packaging/build.py`.

Steps: build the page if needed, run PyInstaller with packaging/chatkit-desktop.spec, prune what
the app never loads (Qt modules, QML, translations, the GTK theme plugin and the system libraries
only those needed), check that every remaining library still resolves, write
dist/chatkit-desktop-linux-x86_64.tar.gz and print the sizes.

`--baseline` builds bench/empty_window.py the same way, as the floor for launch-time comparisons.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "chatkit-desktop.spec"

# Qt libraries QtWebEngine widgets need at run time (recorded from a running build's memory
# maps), plus the Wayland client for users not on X11.
QT_LIBS = {
    "Core",
    "DBus",
    "Gui",
    "Network",
    "OpenGL",
    "Positioning",
    "PrintSupport",
    "Qml",
    "QmlMeta",
    "QmlModels",
    "QmlWorkerScript",
    "Quick",
    "QuickWidgets",
    "WebChannel",
    "WebEngineCore",
    "WebEngineWidgets",
    "Widgets",
    "XcbQpa",
    "WaylandClient",
    "WlShellIntegration",
}
QT_PLUGIN_DIRS = {
    "platforms",
    "platforminputcontexts",
    "xcbglintegrations",
    "imageformats",
    "wayland-decoration-client",
    "wayland-graphics-integration-client",
    "wayland-shell-integration",
}
PYQT_MODULES = {
    "QtCore",
    "QtGui",
    "QtWidgets",
    "QtNetwork",
    "QtOpenGL",
    "QtPrintSupport",
    "QtWebChannel",
    "QtWebEngineCore",
    "QtWebEngineWidgets",
}


def run(*cmd: str, **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def du(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def is_elf(path: Path) -> bool:
    if not path.is_file() or path.is_symlink():
        return False
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def build_page() -> None:
    if (ROOT / "desktop" / "ui" / "dist" / "index.html").is_file():
        return
    npm = shutil.which("npm") or sys.exit("npm is needed to build the page (Node.js 20+).")
    run(npm, "--prefix", str(ROOT / "web"), "ci", "--no-audit", "--no-fund")
    run(npm, "--prefix", str(ROOT / "web"), "run", "build")


def prune(bundle: Path) -> None:
    internal = bundle / "_internal"
    qt = internal / "PyQt6" / "Qt6"
    if not qt.is_dir():
        return
    translations = qt / "translations"
    for path in list(translations.rglob("*")):
        if path.is_file() and path.name != "en-US.pak":
            path.unlink()
    shutil.rmtree(qt / "qml", ignore_errors=True)
    for plugin_dir in (qt / "plugins").iterdir():
        if plugin_dir.name not in QT_PLUGIN_DIRS:
            shutil.rmtree(plugin_dir)
    for lib in (qt / "lib").glob("libQt6*.so*"):
        if lib.name.split(".so")[0].removeprefix("libQt6") not in QT_LIBS:
            lib.unlink()
    for module in (internal / "PyQt6").glob("Qt*.abi3.so"):
        if module.name.split(".")[0] not in PYQT_MODULES:
            module.unlink()
    for link in internal.iterdir():
        if link.is_symlink() and not link.exists():
            link.unlink()
    drop_unreachable_libraries(bundle)


def needed_libraries(bundle: Path) -> set[Path]:
    """The bundle's own libraries that some remaining ELF file links against (transitively)."""
    internal = bundle / "_internal"
    env = {**os.environ, "LD_LIBRARY_PATH": f"{internal}:{internal / 'PyQt6' / 'Qt6' / 'lib'}"}
    roots = [p for p in internal.rglob("*") if is_elf(p) and not p.name.startswith("lib")]
    roots += [p for p in (internal / "PyQt6" / "Qt6").rglob("*") if is_elf(p)]
    roots.append(bundle / bundle.name)
    needed: set[Path] = set()
    pending = list(roots)
    missing: list[str] = []
    plugins = internal / "PyQt6" / "Qt6" / "plugins"
    while pending:
        elf = pending.pop()
        out = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, env=env).stdout
        if "not found" in out and plugins in elf.parents:
            # An optional plugin (PDF or SVG images, eglfs, libadwaita decorations) whose Qt
            # module was pruned: Qt skips plugins it doesn't find.
            elf.unlink()
            continue
        for line in out.splitlines():
            if "not found" in line:
                missing.append(f"{elf.name}: {line.strip()}")
            if "=>" not in line:
                continue
            target = line.split("=>", 1)[1].strip().split(" (", 1)[0]
            path = Path(target).resolve() if target else None
            if path and str(path).startswith(str(bundle)) and path not in needed:
                needed.add(path)
                pending.append(path)
    if missing:
        sys.exit(
            "libraries would be missing from the bundle:\n" + "\n".join(sorted(set(missing))[:20])
        )
    return needed


def drop_unreachable_libraries(bundle: Path) -> None:
    internal = bundle / "_internal"
    needed = needed_libraries(bundle)
    for lib in internal.glob("lib*.so*"):
        if lib.resolve() not in needed and not lib.name.startswith("libpython"):
            lib.unlink()


def archive(bundle: Path, name: str) -> Path:
    machine = platform.machine().lower()
    target = bundle.parent / f"{name}-{sys.platform.replace('linux', 'linux')}-{machine}.tar.gz"
    with tarfile.open(target, "w:gz", compresslevel=9) as tar:
        tar.add(bundle, arcname=bundle.name)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller")
    parser.add_argument(
        "--baseline", action="store_true", help="build the empty-window baseline instead"
    )
    args = parser.parse_args()
    env = dict(os.environ)
    name = "chatkit-desktop"
    if args.baseline:
        name = "empty-window"
        env.update(
            CHATKIT_SPEC_ENTRY=str(ROOT / "bench" / "empty_window.py"), CHATKIT_SPEC_NAME=name
        )
    else:
        build_page()
    run(
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(args.dist),
        "--workpath",
        str(args.work / name),
        str(SPEC),
        env=env,
    )
    bundle = args.dist / name
    before = du(bundle)
    prune(bundle)
    unpacked = du(bundle)
    tarball = archive(bundle, name)
    if name == "chatkit-desktop":
        desktop_file = ROOT / "packaging" / "chatkit-desktop.desktop"
        shutil.copy(desktop_file, bundle / desktop_file.name)
        shutil.copy(ROOT / "packaging" / "chatkit-desktop.svg", bundle / "chatkit-desktop.svg")
        tarball = archive(bundle, name)
        unpacked = du(bundle)
    print(
        f"{name}: {before / 1e6:.0f} MB before pruning, {unpacked / 1e6:.0f} MB unpacked, "
        f"{tarball.stat().st_size / 1e6:.0f} MB as {tarball.name}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
