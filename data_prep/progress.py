"""A small progress bar on stderr (no third-party dependency)."""

import sys
import time


class ProgressBar:
    """Counts items and frames; redraws one stderr line at most every `interval` seconds."""

    def __init__(self, total_items: int, label: str = "videos", stream=None, interval: float = 0.5,
                 width: int = 30):
        self.total_items = max(int(total_items), 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.interval = interval
        self.width = width
        self.items = 0
        self.frames = 0
        self.failed = 0
        self.start = time.monotonic()
        self._last_draw = 0.0
        # Only redraw in place on a terminal; logs get a line per update instead.
        self._in_place = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, frames: int = 0, failed: bool = False) -> None:
        """Records one finished item."""
        self.items += 1
        self.frames += int(frames)
        self.failed += int(bool(failed))
        now = time.monotonic()
        if now - self._last_draw >= self.interval or self.items == self.total_items:
            self._last_draw = now
            self._draw()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        fraction = self.items / self.total_items if self.total_items else 1.0
        filled = int(round(self.width * fraction))
        rate = self.frames / elapsed
        remaining = elapsed / fraction - elapsed if fraction > 0 else 0.0
        minutes, seconds = divmod(int(remaining), 60)
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.items}/{self.total_items} "
                f"{self.label}, {self.frames} frames, {rate:.1f} frames/s, {self.failed} failed, "
                f"ETA {minutes}:{seconds:02d}")

    def _draw(self) -> None:
        if self._in_place:
            self.stream.write("\r" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._in_place:
            self.stream.write("\n")
            self.stream.flush()
