"""A tiny MJPEG-over-HTTP server on 127.0.0.1 for tests and benchmarks of live input: it serves a
fixed list of frames, paced at a frame rate, to a given number of clients one after the other,
then stops listening (a camera that went away)."""

import http.server
import socketserver
import threading
import time

import cv2
import numpy as np

BOUNDARY = b"mimamoframe"


def jpeg_frames(frames_rgb, quality=90):
    """The frames as JPEG bytes (what the server sends, and what a reference decodes)."""
    return [cv2.imencode(".jpg", cv2.cvtColor(np.asarray(f), cv2.COLOR_RGB2BGR),
                         [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes() for f in frames_rgb]


class MjpegServer:
    """Serves ``jpegs`` as ``multipart/x-mixed-replace`` at ``fps`` (0: as fast as possible), once
    to each of the first ``connections`` clients (a client that reconnects is the next one), then
    closes the listening socket; ``repeat`` loops the frames until ``close()`` instead. Use as a
    context manager; ``url`` is the stream's address, ``sent`` counts the frames written and
    ``last_sent_at`` is the ``time.monotonic()`` of the last one (None before the first)."""

    def __init__(self, jpegs, fps=25.0, repeat=False, connections=1):
        self.jpegs, self.fps, self.repeat = list(jpegs), float(fps), repeat
        self.connections = int(connections)
        self.served = 0
        self.sent = 0
        self.last_sent_at = None
        self.stopping = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=" + BOUNDARY.decode())
                self.end_headers()
                try:
                    server._stream(self.wfile)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                server.served += 1
                if server.served >= server.connections:
                    threading.Thread(target=server.close, daemon=True).start()

            def log_message(self, *args):
                pass

        self._http = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/stream.mjpg"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def _stream(self, out):
        start = time.monotonic()
        k = 0
        while not self.stopping.is_set() and (self.repeat or k < len(self.jpegs)):
            data = self.jpegs[k % len(self.jpegs)]
            if self.fps > 0:
                delay = start + k / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            out.write(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
                      + data + b"\r\n")
            out.flush()
            k += 1
            self.sent += 1
            self.last_sent_at = time.monotonic()

    def __enter__(self):
        self._thread.start()
        return self

    def close(self):
        self.stopping.set()
        self._http.shutdown()
        self._http.server_close()

    def __exit__(self, *exc):
        if not self.stopping.is_set():
            self.close()
