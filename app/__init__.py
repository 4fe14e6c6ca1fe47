"""RotBGR desktop application (PySide6)."""
