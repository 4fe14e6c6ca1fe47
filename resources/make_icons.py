"""Write the app's SVG icons (resources/icons/) and the packaging icon (packaging/rotbgr.svg).

Run from the repository root: ``python resources/make_icons.py``.  The icons are
simple 24x24 line drawings in one stroke colour, made for a dark interface.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
STROKE = "#d6dae0"

ICONS: dict[str, str] = {
    "folder-open": '<path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v1"/>'
    '<path d="M3 7v10a2 2 0 0 0 2 2h12.5a2 2 0 0 0 1.9-1.4L21.6 12a1.5 1.5 0 0 0-1.4-2H8.2a2 2 0 0 0-1.9 1.4L4 19"/>',
    "export": '<path d="M12 15V3"/><path d="m7 8 5-5 5 5"/><path d="M5 13v6a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2v-6"/>',
    "settings": '<path d="M4 6h9M19 6h1M4 12h3M13 12h7M4 18h11M21 18h-1"/>'
    '<circle cx="16" cy="6" r="2.2"/><circle cx="10" cy="12" r="2.2"/><circle cx="17.8" cy="18" r="2.2"/>',
    "rotate-ccw": '<path d="M4 12a8 8 0 1 0 2.4-5.7L4 8.6"/><path d="M4 3.5v5.1h5.1"/>',
    "rotate-cw": '<path d="M20 12a8 8 0 1 1-2.4-5.7L20 8.6"/><path d="M20 3.5v5.1h-5.1"/>',
    "mirror": '<path d="M12 3v2M12 8v2M12 13v2M12 18v3"/><path d="M9 6 3 18h6z"/><path d="M15 6l6 12h-6z"/>',
    "reset": '<path d="M4 12a8 8 0 1 0 2.4-5.7L4 8.6"/><path d="M4 3.5v5.1h5.1"/><circle cx="12" cy="12" r="2.2"/>',
    "accept": '<path d="M20 6.5 9.5 17 4 11.5"/>',
    "reject": '<path d="M18 6 6 18M6 6l12 12"/>',
    "undo": '<path d="M9 14 4 9l5-5"/><path d="M4 9h10.5a5.5 5.5 0 0 1 0 11H11"/>',
    "redo": '<path d="m15 14 5-5-5-5"/><path d="M20 9H9.5a5.5 5.5 0 0 0 0 11H13"/>',
    "grid": '<rect x="3.5" y="3.5" width="7" height="7" rx="1.2"/>'
    '<rect x="13.5" y="3.5" width="7" height="7" rx="1.2"/>'
    '<rect x="3.5" y="13.5" width="7" height="7" rx="1.2"/><rect x="13.5" y="13.5" width="7" height="7" rx="1.2"/>',
    "compare": '<rect x="3" y="4.5" width="18" height="15" rx="2"/><path d="M12 4.5v15"/>'
    '<path d="m15 14 2-3 2 3" />',
    "fit": '<path d="M4 9V5.5A1.5 1.5 0 0 1 5.5 4H9M15 4h3.5A1.5 1.5 0 0 1 20 5.5V9M20 15v3.5a1.5 1.5 0 0 1-1.5 1.5H15'
    'M9 20H5.5A1.5 1.5 0 0 1 4 18.5V15"/>',
    "zoom-100": '<path d="M5 8.5 7.5 6v12M16.5 8.5 19 6v12"/><circle cx="12" cy="10" r=".9" fill="{c}"/>'
    '<circle cx="12" cy="15" r=".9" fill="{c}"/>',
    "zoom-in": '<circle cx="11" cy="11" r="7"/><path d="m20 20-4-4M8 11h6M11 8v6"/>',
    "zoom-out": '<circle cx="11" cy="11" r="7"/><path d="m20 20-4-4M8 11h6"/>',
    "overlay": '<rect x="3" y="3" width="18" height="18" rx="2"/><path d="M3 9h18M3 15h18M9 3v18M15 3v18"/>',
    "line-h": '<path d="M3 19h18" opacity=".55"/><path d="M4 15 20 7"/><circle cx="4" cy="15" r="1.8"/>'
    '<circle cx="20" cy="7" r="1.8"/>',
    "line-v": '<path d="M19 3v18" opacity=".55"/><path d="M9 4l6 16"/><circle cx="9" cy="4" r="1.8"/>'
    '<circle cx="15" cy="20" r="1.8"/>',
    "help": '<circle cx="12" cy="12" r="9"/><path d="M9.4 9.2a2.7 2.7 0 1 1 3.8 2.5c-.7.3-1.2 1-1.2 1.8v.5"/>'
    '<circle cx="12" cy="17" r=".9" fill="{c}"/>',
    "sort": '<path d="M7 4v16M4 17l3 3 3-3M17 20V4M14 7l3-3 3 3"/>',
    "filter": '<path d="M3.5 5h17l-6.8 8v5.5L10.3 20v-7z"/>',
    "alert": '<path d="M10.3 4.2 2.6 17.5A2 2 0 0 0 4.3 20.5h15.4a2 2 0 0 0 1.7-3L13.7 4.2a2 2 0 0 0-3.4 0z"/>'
    '<path d="M12 9.5v4"/><circle cx="12" cy="17" r=".9" fill="{c}"/>',
    "decisions": '<rect x="4.5" y="3" width="15" height="18" rx="2"/><path d="M8.5 8h7M8.5 12h7M8.5 16h4"/>',
    "search": '<circle cx="11" cy="11" r="7"/><path d="m20 20-4-4"/>',
    "refresh": '<path d="M4 12a8 8 0 0 1 14.3-4.9L20 9M20 4v5h-5"/>'
    '<path d="M20 12a8 8 0 0 1-14.3 4.9L4 15M4 20v-5h5"/>',
    "stop": '<rect x="6" y="6" width="12" height="12" rx="2"/>',
    "prev": '<path d="m15 18-6-6 6-6"/>',
    "next": '<path d="m9 18 6-6-6-6"/>',
    "image": '<rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" r="1.8"/>'
    '<path d="m21 16-5-5-9 9"/>',
    "cpu": '<rect x="6" y="6" width="12" height="12" rx="1.5"/><rect x="9.5" y="9.5" width="5" height="5" rx=".5"/>'
    '<path d="M9 3v3M15 3v3M9 18v3M15 18v3M3 9h3M3 15h3M18 9h3M18 15h3"/>',
    "chevron-up": '<path d="m6 15 6-6 6 6"/>',
    "chevron-down": '<path d="m6 9 6 6 6-6"/>',
    "folder": '<path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/>',
}

APP_ICON = """<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#2f6bff"/>
      <stop offset="1" stop-color="#14b8a6"/>
    </linearGradient>
    <linearGradient id="paper" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#ffffff"/>
      <stop offset="1" stop-color="#e8eef7"/>
    </linearGradient>
  </defs>
  <rect x="8" y="8" width="240" height="240" rx="56" fill="url(#bg)"/>
  <g transform="rotate(-12 128 132)">
    <rect x="78" y="58" width="100" height="138" rx="10" fill="url(#paper)"/>
    <rect x="94" y="80" width="68" height="8" rx="4" fill="#2f6bff"/>
    <rect x="94" y="100" width="58" height="6" rx="3" fill="#9fb3cc"/>
    <rect x="94" y="114" width="68" height="6" rx="3" fill="#9fb3cc"/>
    <rect x="94" y="128" width="50" height="6" rx="3" fill="#9fb3cc"/>
    <rect x="94" y="148" width="68" height="28" rx="5" fill="#14b8a6" opacity=".55"/>
  </g>
  <path d="M200 128a72 72 0 0 1-128 45" fill="none" stroke="#ffb020" stroke-width="14" stroke-linecap="round"/>
  <path d="M62 150l8 30 28-14" fill="none" stroke="#ffb020" stroke-width="14" stroke-linecap="round"
        stroke-linejoin="round"/>
  <path d="M56 128a72 72 0 0 1 128-45" fill="none" stroke="#ffffff" stroke-opacity=".85" stroke-width="8"
        stroke-linecap="round" stroke-dasharray="2 16"/>
</svg>
"""


def svg(body: str, colour: str = STROKE) -> str:
    """A 24x24 line icon."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24" fill="none" '
        f'stroke="{colour}" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">'
        + body.replace("{c}", colour)
        + "</svg>\n"
    )


def main() -> None:
    """Write every icon."""
    out = ROOT / "icons"
    out.mkdir(exist_ok=True)
    for name, body in ICONS.items():
        (out / f"{name}.svg").write_text(svg(body), encoding="utf-8")
    (out / "rotbgr.svg").write_text(APP_ICON, encoding="utf-8")
    packaging = ROOT.parent / "packaging"
    packaging.mkdir(exist_ok=True)
    (packaging / "rotbgr.svg").write_text(APP_ICON, encoding="utf-8")


if __name__ == "__main__":
    main()
