"""``python -m app.qtcheck``: can Qt open a window here?  If not, say exactly what to install.

* With ``QT_QPA_PLATFORM=offscreen`` (headless) there is nothing to check.
* With no ``DISPLAY`` (and no Wayland display) it says so and exits 3.
* Otherwise it checks with ``ldd`` that every library of Qt's xcb platform plugin is
  present, names the Debian packages that provide the missing ones (exit 4), and then
  tries to start Qt on the display in a child process (exit 5 if that fails).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

#: Debian/Ubuntu packages that Qt's xcb platform plugin needs.
XCB_PACKAGES = (
    "libxcb-cursor0", "libxkbcommon-x11-0", "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0",
    "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0", "libegl1", "libgl1", "libfontconfig1",
    "libdbus-1-3",
)

#: Shared library (soname prefix) -> Debian package.
LIBRARY_PACKAGES = {
    "libxcb-cursor.so": "libxcb-cursor0",
    "libxkbcommon-x11.so": "libxkbcommon-x11-0",
    "libxkbcommon.so": "libxkbcommon0",
    "libxcb-icccm.so": "libxcb-icccm4",
    "libxcb-image.so": "libxcb-image0",
    "libxcb-keysyms.so": "libxcb-keysyms1",
    "libxcb-randr.so": "libxcb-randr0",
    "libxcb-render-util.so": "libxcb-render-util0",
    "libxcb-render.so": "libxcb-render0",
    "libxcb-shape.so": "libxcb-shape0",
    "libxcb-xinerama.so": "libxcb-xinerama0",
    "libxcb-xinput.so": "libxcb-xinput0",
    "libxcb-xfixes.so": "libxcb-xfixes0",
    "libxcb-xkb.so": "libxcb-xkb1",
    "libxcb-sync.so": "libxcb-sync1",
    "libxcb-shm.so": "libxcb-shm0",
    "libxcb-util.so": "libxcb-util1",
    "libxcb-glx.so": "libxcb-glx0",
    "libxcb.so": "libxcb1",
    "libX11-xcb.so": "libx11-xcb1",
    "libX11.so": "libx11-6",
    "libSM.so": "libsm6",
    "libICE.so": "libice6",
    "libEGL.so": "libegl1",
    "libGL.so": "libgl1",
    "libOpenGL.so": "libopengl0",
    "libGLX.so": "libglx0",
    "libfontconfig.so": "libfontconfig1",
    "libfreetype.so": "libfreetype6",
    "libdbus-1.so": "libdbus-1-3",
    "libglib-2.0.so": "libglib2.0-0",
    "libgthread-2.0.so": "libglib2.0-0",
}

EXIT_OK, EXIT_NO_DISPLAY, EXIT_MISSING_LIBS, EXIT_CANNOT_START = 0, 3, 4, 5


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, if installed."""
    try:
        import PySide6
    except ImportError:
        return None
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.exists() else None


def missing_libraries(plugin: Path) -> list[str]:
    """Libraries ``ldd`` cannot find for ``plugin`` (empty if ldd is unavailable)."""
    if shutil.which("ldd") is None:
        return []
    result = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=False)
    found = re.findall(r"^\s*(\S+)\s+=>\s+not found", result.stdout, flags=re.MULTILINE)
    return sorted(set(found))


def packages_for(libraries: list[str]) -> list[str]:
    """Debian packages that provide ``libraries`` (best guess by soname)."""
    packages = []
    for library in libraries:
        for prefix, package in sorted(LIBRARY_PACKAGES.items(), key=lambda kv: -len(kv[0])):
            if library.startswith(prefix):
                packages.append(package)
                break
    return sorted(set(packages))


def try_start_qt(timeout: float = 20.0) -> tuple[bool, str]:
    """Start a QGuiApplication on the xcb platform in a child process."""
    code = (
        "from PySide6.QtGui import QGuiApplication; "
        "app = QGuiApplication(['qtcheck', '-platform', 'xcb']); print('ok')"
    )
    try:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                                check=False)
    except subprocess.TimeoutExpired:
        return False, f"Qt did not start within {timeout:.0f} s"
    ok = result.returncode == 0 and "ok" in result.stdout
    return ok, (result.stderr or result.stdout).strip()


def check(environ: dict[str, str] | None = None, out: object = None) -> int:
    """Run the checks and print the verdict; returns the exit status."""
    env = dict(os.environ if environ is None else environ)
    write = (out or sys.stdout).write  # type: ignore[attr-defined]
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc")):
        write(f"qtcheck: QT_QPA_PLATFORM={platform}: no display needed.\n")
        return EXIT_OK
    if not env.get("DISPLAY"):
        if env.get("WAYLAND_DISPLAY"):
            write("qtcheck: Wayland display found; Qt will use it.\n")
            return EXIT_OK
        write(
            "qtcheck: there is no display (DISPLAY is not set), so the desktop app cannot open a window.\n"
            "  Run it in a desktop session, over 'ssh -X', or under a virtual display:\n"
            "      sudo apt-get install -y xvfb && xvfb-run -a make run\n"
            "  Headless use does not need the app: try '.venv/bin/rotbgr predict FOLDER'.\n"
        )
        return EXIT_NO_DISPLAY
    plugin = xcb_plugin()
    if plugin is None:
        write("qtcheck: PySide6's xcb platform plugin is missing; reinstall PySide6 ('make clean && make run').\n")
        return EXIT_MISSING_LIBS
    missing = missing_libraries(plugin)
    if missing:
        packages = packages_for(missing)
        write(
            "qtcheck: Qt's X11 (xcb) platform plugin cannot load; these system libraries are missing:\n"
            + "".join(f"      {library}\n" for library in missing)
            + "  Install them with:\n"
            + f"      sudo apt-get install -y {' '.join(packages or XCB_PACKAGES)}\n"
            + "  (the full set Qt needs: " + " ".join(XCB_PACKAGES) + ")\n"
        )
        return EXIT_MISSING_LIBS
    ok, detail = try_start_qt()
    if not ok:
        write(
            f"qtcheck: Qt could not open the display {env.get('DISPLAY')}:\n"
            f"      {detail.splitlines()[-1] if detail else ''}\n"
            "  Check that the display is reachable (xdpyinfo), or install Qt's X11 libraries:\n"
            f"      sudo apt-get install -y {' '.join(XCB_PACKAGES)}\n"
        )
        return EXIT_CANNOT_START
    write(f"qtcheck: Qt can open windows on {env.get('DISPLAY')}.\n")
    return EXIT_OK


def main() -> int:
    """Entry point of ``python -m app.qtcheck``."""
    return check()


if __name__ == "__main__":
    sys.exit(main())
