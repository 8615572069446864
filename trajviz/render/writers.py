"""Animation writers: frames in, one file out, atomically, with flat memory.

``AnimationWriter`` is a context manager in matplotlib's setup / grab / finish
style: ``append`` takes an RGB frame (H, W, 3) uint8; leaving the block writes
the file (temporary file, then rename); an exception or Ctrl-C removes the
temporary file and leaves any existing file untouched.

GIF is written frame by frame so memory does not grow with the number of
frames: Pillow's own multi-frame GIF writer keeps every frame until the end,
so here Pillow encodes each frame (its LZW coder) and this module writes the
GIF container around it: one global palette shared by all frames (built from a
sample frame plus the exact method colours, so lines keep their colours), the
loop flag, per-frame delays, and each frame cropped to what changed since the
previous one with unchanged pixels transparent. Identical consecutive frames
are merged; the last frame is held ``hold`` seconds.

WebP and APNG go through Pillow (frames are staged in a temporary raw file and
read back one at a time), MP4 through imageio-ffmpeg (an optional extra:
``pip install "trajviz-optim[mp4]"``), and HTML is one self-contained page with
play, pause and a scrubber, whose frames are the same palette deltas as PNGs.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
import struct
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import OutputError, atomic_path, check_writable
from ..errors import TrajvizError

FORMATS = (".gif", ".webp", ".png", ".mp4", ".html")
TRANSPARENT = 255  # palette index reserved for "unchanged since the previous frame"
MAX_FPS = 50.0
MIN_FPS = 0.1
MAX_DELAY_CS = 65535  # a GIF frame's delay is a 16-bit count of 1/100 s     # GIF delays are in 1/100 s and browsers slow anything below 2/100 s
EXACT_RADIUS = 12  # sampled palette entries this close (RGB levels) to an exact colour are dropped
MP4_EXTRA = 'pip install "trajviz-optim[mp4]"  (imageio-ffmpeg)'


def check_animation_path(path) -> Path:
    """Check the extension (and the mp4 extra) and that the file can be written, before rendering."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise TrajvizError(f"cannot write an animation to '{path.name}': use one of {', '.join(FORMATS)}")
    if ext == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise TrajvizError(f"writing .mp4 needs the mp4 extra: {MP4_EXTRA}") from None
    check_writable(path)
    return path


def check_fps(fps) -> float:
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise TrajvizError(f"bad fps {fps!r}: must be a number > 0") from None
    if not math.isfinite(value) or value <= 0:
        raise TrajvizError(f"bad fps {fps}: must be > 0")
    if value < MIN_FPS:
        raise TrajvizError(f"bad fps {fps:g}: at least {MIN_FPS:g}")
    if value > MAX_FPS:
        raise TrajvizError(f"bad fps {fps:g}: at most {MAX_FPS:g} (GIF delays are hundredths of a second)")
    return value


# ---- palette ---------------------------------------------------------------------------
def _hex_rgb(color: str) -> tuple[int, int, int]:
    from matplotlib.colors import to_rgb

    return tuple(int(round(c * 255)) for c in to_rgb(color))


def build_palette(sample: np.ndarray, exact_colors=(), size: int = 255) -> np.ndarray:
    """A (size, 3) uint8 palette: the exact colours first, then the sample's main colours."""
    exact = []
    for c in exact_colors:
        rgb = _hex_rgb(c) if isinstance(c, str) else tuple(int(v) for v in c)
        if rgb not in exact:
            exact.append(rgb)
    exact = exact[: size // 4]
    rest = size - len(exact)
    img = Image.fromarray(np.ascontiguousarray(sample[..., :3]))
    quant = img.quantize(colors=rest, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal = np.array(quant.getpalette()[: 3 * rest], dtype=np.uint8).reshape(-1, 3)
    if exact:
        # Pillow maps colours to a fixed palette through a cache of 4x4x4-level cells: a sampled
        # entry within a few levels of an exact colour can win that colour's cell (white came out
        # 251 grey, Adam's orange another orange). Dropping such near twins keeps exact colours exact.
        ex = np.array(exact, dtype=np.int64)
        d2 = ((pal[:, None, :].astype(np.int64) - ex[None]) ** 2).sum(-1).min(axis=1)
        pal = pal[d2 > EXACT_RADIUS**2]
    out = np.zeros((size, 3), dtype=np.uint8)
    if exact:
        out[: len(exact)] = np.array(exact, dtype=np.uint8)
    out[len(exact): len(exact) + len(pal)] = pal
    if len(exact) + len(pal) < size:  # fewer colours in the sample than slots: repeat the first
        out[len(exact) + len(pal):] = out[0]
    return out


def _rgb(frame: np.ndarray) -> np.ndarray:
    """A C-contiguous RGB copy (or view) of an RGB or RGBA frame."""
    if frame.shape[2] == 3:
        return np.ascontiguousarray(frame)
    # Pillow drops the alpha channel about twice as fast as a strided numpy copy
    return np.asarray(Image.fromarray(np.ascontiguousarray(frame), "RGBA").convert("RGB"))


def _with_alpha(frame: np.ndarray) -> np.ndarray:
    return np.concatenate([frame, np.full(frame.shape[:2] + (1,), 255, np.uint8)], axis=2)


def _frame_diff_box(a: np.ndarray, b: np.ndarray):
    """The (r0, r1, c0, c1) box of pixels whose colour differs between two frames, or None."""
    if a.shape[2] == 4 and a.flags.c_contiguous and b.flags.c_contiguous:
        # RGBA as one uint32 per pixel: one comparison instead of four (a change of alpha
        # alone only costs a needless re-quantization of that box)
        return _changed_bbox(a.view(np.uint32)[..., 0], b.view(np.uint32)[..., 0])
    diff = (a[..., :3] != b[..., :3]).any(axis=2)
    return _changed_bbox(diff, np.zeros_like(diff))


class Quantizer:
    """Maps RGB frames to indices of one fixed palette (nearest colour, no dithering)."""

    def __init__(self, palette: np.ndarray):
        self.palette = palette
        flat = np.zeros((256, 3), dtype=np.uint8)
        flat[: len(palette)] = palette
        flat[len(palette):] = palette[0]
        self._pal_img = Image.new("P", (1, 1))
        self._pal_img.putpalette(flat.reshape(-1).tolist())
        self.flat = flat

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        img = Image.fromarray(np.ascontiguousarray(frame[..., :3]))
        q = img.quantize(palette=self._pal_img, dither=Image.Dither.NONE)
        return np.asarray(q)


def _p_image(indices: np.ndarray, flat_palette: np.ndarray) -> Image.Image:
    im = Image.frombytes("P", (indices.shape[1], indices.shape[0]), np.ascontiguousarray(indices).tobytes())
    im.putpalette(flat_palette.reshape(-1).tolist())
    return im


def _delta(prev: np.ndarray, cur: np.ndarray):
    """``cur`` cropped to what changed since ``prev``, unchanged pixels made TRANSPARENT.

    Returns (crop, top, left, any_transparent); an identical frame gives one pixel.
    """
    r0, r1, c0, c1 = _changed_bbox(prev, cur) or (0, 1, 0, 1)
    crop = cur[r0:r1, c0:c1].copy()
    same = prev[r0:r1, c0:c1] == crop
    crop[same] = TRANSPARENT
    return crop, r0, c0, bool(same.any())


def _changed_bbox(prev: np.ndarray, cur: np.ndarray):
    diff = prev != cur
    rows = np.flatnonzero(diff.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(diff.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


# ---- GIF container ----------------------------------------------------------------------
def _gif_frame_blocks(indices: np.ndarray, flat_palette: np.ndarray) -> bytes:
    """Pillow's encoding of one frame: the image descriptor and LZW data (no header, no trailer)."""
    buf = io.BytesIO()
    _p_image(indices, flat_palette).save(buf, format="GIF", optimize=False)
    data = buf.getvalue()
    pos = 13
    packed = data[10]
    if packed & 0x80:
        pos += 3 * (2 ** ((packed & 0x07) + 1))
    while pos < len(data):
        block = data[pos]
        if block == 0x21:  # extension: label, then sub-blocks
            pos += 2
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        elif block == 0x2C:
            end = len(data) - 1 if data[-1] == 0x3B else len(data)
            return data[pos:end]
        else:
            break
    raise RuntimeError("unexpected GIF layout from Pillow")


class _GifStream:
    def __init__(self, fh, width: int, height: int, flat_palette: np.ndarray, loop: int):
        self.fh = fh
        self.flat = flat_palette
        fh.write(b"GIF89a" + struct.pack("<HHBBB", width, height, 0xF7, 0, 0) + self.flat.tobytes())
        fh.write(b"\x21\xFF\x0BNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\x00")

    def frame(self, indices: np.ndarray, delay_cs: int, prev: np.ndarray | None) -> None:
        top, left = 0, 0
        transparent = False
        if prev is not None:
            indices, top, left, transparent = _delta(prev, indices)
        packed = (1 << 2) | (1 if transparent else 0)  # disposal 1: keep, then draw on top
        self.fh.write(b"\x21\xF9\x04" + struct.pack("<BHB", packed, min(MAX_DELAY_CS, max(2, int(delay_cs))),
                                                    TRANSPARENT if transparent else 0) + b"\x00")
        blocks = bytearray(_gif_frame_blocks(indices, self.flat))
        blocks[1:5] = struct.pack("<HH", left, top)
        self.fh.write(bytes(blocks))

    def close(self) -> None:
        self.fh.write(b"\x3B")


# ---- the writer ---------------------------------------------------------------------------
class AnimationWriter:
    """Write frames to ``path`` by its extension; use as a context manager.

    Args:
        path: .gif, .webp, .png (APNG), .mp4 or .html.
        fps: frames per second (> 0, at most 50).
        hold: seconds the last frame stays up before the loop restarts.
        palette_sample: an RGB frame whose colours seed the GIF/HTML palette
            (the finished picture is best), and ``exact_colors`` the colours that
            must stay exact (the methods' colours).
        loop: 0 = forever.
    """

    def __init__(self, path, *, fps: float = 25.0, hold: float = 1.5, palette_sample=None, exact_colors=(),
                 loop: int = 0, title: str = "trajviz"):
        self.path = check_animation_path(path)
        self.ext = self.path.suffix.lower()
        self.fps = check_fps(fps)
        self.hold = max(0.0, float(hold))
        self.loop = int(loop)
        self.title = title
        self.palette_sample = palette_sample
        self.exact_colors = tuple(exact_colors)
        self.frames = 0           # frames appended
        self.written_frames = 0   # frames in the file (identical neighbours merged)
        self.size = None
        self._stack = None

    # frame timing in the units each format wants
    @property
    def delay_cs(self) -> int:
        return max(2, int(round(100.0 / self.fps)))

    def __enter__(self):
        self._stack = contextlib.ExitStack()
        self._tmp = self._stack.enter_context(atomic_path(self.path))
        self._pending = None      # (indices or rgb, count of merged frames)
        self._prev = None
        self._stage = None
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self._finish()
            else:
                self._abort()
        finally:
            stack, self._stack = self._stack, None
            stack.__exit__(exc_type, exc, tb)
        return False

    def _abort(self):
        for name in ("_fh", "_ff", "_stage"):
            obj = getattr(self, name, None)
            if obj is not None:
                with contextlib.suppress(Exception):
                    obj.close()

    def append(self, frame: np.ndarray) -> None:
        """Add one frame: (H, W, 3) RGB or (H, W, 4) RGBA uint8 (alpha is ignored).

        The frame is copied (or encoded) before this returns, so the caller may
        reuse its buffer, e.g. pass ``np.asarray(canvas.buffer_rgba())`` directly.
        """
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8:
            raise TrajvizError("a frame is an (H, W, 3) uint8 array")
        if self.size is None:
            self.size = (frame.shape[1], frame.shape[0])
            self._start(frame[..., :3])
        elif (frame.shape[1], frame.shape[0]) != self.size:
            raise TrajvizError(f"frame size {frame.shape[1]}x{frame.shape[0]} differs from {self.size}")
        self.frames += 1
        if self.ext in (".gif", ".html"):
            self._append_indexed(frame)
        elif self.ext == ".mp4":
            self._last = np.ascontiguousarray(frame[..., :3])
            self._ff.send(self._last)
        else:
            self._stage.write(np.ascontiguousarray(frame[..., :3]).tobytes())

    def _append_indexed(self, frame: np.ndarray) -> None:
        # Only the pixels that changed since the previous frame are quantized: an animation
        # redraws a small part of a large picture, and quantizing (or even copying) whole
        # frames would cost more than drawing them.
        if self._pending is None:
            self._frame = np.array(frame)  # our own copy: the caller may reuse its buffer
            self._pending = [self._quant(_rgb(frame)), 1]
            return
        if self._frame.shape != frame.shape:  # RGBA after RGB or the reverse
            self._frame = np.array(_rgb(self._frame)) if frame.shape[2] == 3 else _with_alpha(self._frame)
        box = _frame_diff_box(self._frame, frame)
        if box is None:
            self._pending[1] += 1
            return
        r0, r1, c0, c1 = box
        self._frame[r0:r1, c0:c1] = frame[r0:r1, c0:c1]
        crop = self._quant(_rgb(frame[r0:r1, c0:c1]))
        last = self._pending[0]
        if np.array_equal(last[r0:r1, c0:c1], crop):  # other colours, same palette indices
            self._pending[1] += 1
            return
        q = last.copy()
        q[r0:r1, c0:c1] = crop
        self._flush_pending(last=False)
        self._pending = [q, 1]

    # -- per format ---------------------------------------------------------------
    def _start(self, first: np.ndarray) -> None:
        w, h = self.size
        if self.ext in (".gif", ".html"):
            sample = self.palette_sample if self.palette_sample is not None else first
            palette = build_palette(np.asarray(sample), self.exact_colors, size=TRANSPARENT)
            self._quant = Quantizer(palette)
            if self.ext == ".gif":
                self._fh = open(self._tmp, "wb")
                self._gif = _GifStream(self._fh, w, h, self._quant.flat, self.loop)
            else:
                self._html_frames = []
        elif self.ext == ".mp4":
            import imageio_ffmpeg

            if w % 2 or h % 2:
                raise TrajvizError(f"mp4 needs an even width and height, not {w}x{h}")
            self._ff = imageio_ffmpeg.write_frames(str(self._tmp), (w, h), fps=self.fps, codec="libx264",
                                                   pix_fmt_out="yuv420p", macro_block_size=2, quality=7,
                                                   output_params=["-movflags", "+faststart"])
            self._ff.send(None)
        else:
            self._stage = tempfile.TemporaryFile(dir=self._tmp.parent)

    def _flush_pending(self, last: bool) -> None:
        if self._pending is None:
            return
        q, count = self._pending
        seconds = count / self.fps + (self.hold if last else 0.0)
        if self.ext == ".gif":
            self._gif.frame(q, int(round(seconds * 100)), self._prev)
        else:
            self._html_frames.append(self._html_frame(q, seconds))
        self._prev = q
        self.written_frames += 1
        self._pending = None

    def _html_frame(self, q: np.ndarray, seconds: float) -> dict:
        flat = self._quant.flat
        keyframe = self._prev is None or len(self._html_frames) % 30 == 0
        if keyframe:
            img, y, x, alpha = q, 0, 0, False
        else:
            img, y, x, alpha = _delta(self._prev, q)
        im = _p_image(img, flat)
        buf = io.BytesIO()
        if alpha:
            im.save(buf, format="PNG", optimize=True, transparency=TRANSPARENT)
        else:
            im.save(buf, format="PNG", optimize=True)
        return {"k": 1 if keyframe else 0, "x": x, "y": y, "d": round(seconds * 1000),
                "src": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")}

    def _finish(self) -> None:
        if self.frames == 0:
            raise TrajvizError("no frames to write")
        if self.ext == ".gif":
            self._flush_pending(last=True)
            self._gif.close()
            self._fh.close()
        elif self.ext == ".html":
            self._flush_pending(last=True)
            Path(self._tmp).write_text(_html_page(self._html_frames, self.size, self.title, self.loop))
        elif self.ext == ".mp4":
            extra = int(round(self.hold * self.fps))
            for _ in range(extra):
                self._ff.send(np.ascontiguousarray(self._last))
            self._ff.close()
            self.written_frames = self.frames + extra
        else:
            self._write_pillow_sequence()

    def _write_pillow_sequence(self) -> None:
        w, h = self.size
        n = self.frames
        self._stage.flush()
        stage = self._stage

        class Staged:
            """Frames 1..n-1 read back one at a time; iterable more than once (Pillow's PNG needs two passes)."""

            def __len__(self):
                return n - 1

            def __iter__(self):
                for i in range(1, n):
                    stage.seek(i * w * h * 3)
                    yield Image.frombytes("RGB", (w, h), stage.read(w * h * 3))

        frames = Staged
        stage.seek(0)
        first = Image.frombytes("RGB", (w, h), stage.read(w * h * 3))
        ms = 1000.0 / self.fps
        durations = [ms] * n
        durations[-1] = ms + self.hold * 1000
        if self.ext == ".webp":
            first.save(self._tmp, format="WEBP", save_all=True, append_images=frames(), duration=durations,
                       loop=self.loop, minimize_size=True, quality=90, method=4, lossless=False)
        else:
            first.save(self._tmp, format="PNG", save_all=True, append_images=frames(), duration=durations,
                       loop=self.loop, optimize=False, default_image=False)
        self.written_frames = n
        stage.close()
        self._stage = None


def _html_page(frames: list[dict], size, title: str, loop: int) -> str:
    import html
    import json

    w, h = size
    data = json.dumps(frames, separators=(",", ":"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{margin:0;background:#f4f4f4;font:14px system-ui,sans-serif;color:#222}}
.tv{{max-width:{w}px;margin:12px auto;padding:0 8px}}
canvas{{width:100%;height:auto;display:block;background:#fff;box-shadow:0 1px 4px #0003}}
.bar{{display:flex;gap:10px;align-items:center;margin-top:8px}}
.bar input[type=range]{{flex:1}} button{{min-width:5.5em;padding:4px 10px;font:inherit}}
</style></head><body><div class="tv">
<canvas id="c" width="{w}" height="{h}"></canvas>
<div class="bar"><button id="play" aria-label="play or pause">Pause</button>
<input id="scrub" type="range" min="0" max="{len(frames) - 1}" value="0" aria-label="frame">
<span id="label">1 / {len(frames)}</span></div></div>
<script>
const F={data};
const LOOP={0 if loop == 0 else 1};
const c=document.getElementById('c'),g=c.getContext('2d'),s=document.getElementById('scrub'),
      b=document.getElementById('play'),lab=document.getElementById('label');
const imgs=F.map(f=>{{const i=new Image();i.src=f.src;return i;}});
let cur=-1,playing=true,timer=null;
function key(i){{while(i>0&&!F[i].k)i--;return i;}}
function draw(i){{
  if(i===cur)return;
  let from=(cur>=0&&i>cur&&key(i)<=cur)?cur+1:key(i);
  for(let j=from;j<=i;j++){{const f=F[j];if(f.k)g.clearRect(0,0,c.width,c.height);g.drawImage(imgs[j],f.x,f.y);}}
  cur=i;s.value=i;lab.textContent=(i+1)+' / '+F.length;
}}
function tick(){{
  if(!playing)return;
  let n=cur+1;if(n>=F.length){{if(!LOOP){{n=0;}}else{{playing=false;b.textContent='Play';return;}}}}
  draw(n);timer=setTimeout(tick,F[n].d);
}}
b.onclick=()=>{{playing=!playing;b.textContent=playing?'Pause':'Play';clearTimeout(timer);if(playing)tick();}};
s.oninput=()=>{{playing=false;b.textContent='Play';clearTimeout(timer);draw(+s.value);}};
Promise.all(imgs.map(i=>i.decode?i.decode().catch(()=>0):0)).then(()=>{{draw(0);timer=setTimeout(tick,F[0].d);}});
</script></body></html>
"""


__all__ = ["AnimationWriter", "FORMATS", "check_animation_path", "check_fps", "build_palette", "Quantizer",
           "MP4_EXTRA", "OutputError"]
