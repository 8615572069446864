"""One self-contained HTML page that plays the animation: play, pause, step, a scrubber.

Frames are the GIF's palette deltas as PNG data URIs (a keyframe every 30 frames,
so seeking is quick). The page fits the window (the picture scales down so the
controls stay in view) and draws every frame as soon as its images have loaded,
counting ``load`` events rather than waiting on ``img.decode()`` promises (which a
headless browser with a virtual time budget never settles). Nothing is fetched:
a Content-Security-Policy forbids every network request.
"""

from __future__ import annotations

import base64
import html
import io
import json

import numpy as np

from .palette import TRANSPARENT, IndexedFrames, delta, p_image

KEYFRAME_EVERY = 30


class HtmlBackend:
    def __init__(self, tmp, fps: float, hold: float, loop: int, palette_sample, exact_colors, title: str, **_):
        self.tmp, self.fps, self.hold, self.loop, self.title = tmp, fps, hold, loop, title
        self.palette_sample, self.exact_colors = palette_sample, exact_colors
        self.frames = None
        self.out: list[dict] = []
        self.prev = None
        self.size = None

    def start(self, first: np.ndarray) -> None:
        self.size = (first.shape[1], first.shape[0])
        sample = self.palette_sample if self.palette_sample is not None else first
        self.frames = IndexedFrames(sample, self.exact_colors)

    def add(self, frame: np.ndarray) -> None:
        done = self.frames.add(frame)
        if done is not None:
            self._frame(*done, last=False)

    def finish(self) -> int:
        done = self.frames.last()
        if done is not None:
            self._frame(*done, last=True)
        self.tmp.write_text(page(self.out, self.size, self.title, self.loop), encoding="utf-8")
        return len(self.out)

    def abort(self) -> None:
        self.out = []

    def _frame(self, q: np.ndarray, count: int, last: bool) -> None:
        seconds = count / self.fps + (self.hold if last else 0.0)
        flat = self.frames.quant.flat
        keyframe = self.prev is None or len(self.out) % KEYFRAME_EVERY == 0
        if keyframe:
            img, y, x, alpha = q, 0, 0, False
        else:
            img, y, x, alpha = delta(self.prev, q)
        buf = io.BytesIO()
        if alpha:
            p_image(img, flat).save(buf, format="PNG", optimize=True, transparency=TRANSPARENT)
        else:
            p_image(img, flat).save(buf, format="PNG", optimize=True)
        self.out.append({"k": 1 if keyframe else 0, "x": x, "y": y, "d": round(seconds * 1000),
                         "src": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")})
        self.prev = q


def page(frames: list[dict], size, title: str, loop: int) -> str:
    w, h = size
    data = json.dumps(frames, separators=(",", ":"))
    n = len(frames)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
html,body{{margin:0;height:100%;background:#f4f4f4;font:16px system-ui,sans-serif;color:#222}}
.tv{{display:flex;flex-direction:column;align-items:center;height:100vh;box-sizing:border-box;padding:8px}}
canvas{{flex:1 1 auto;min-height:0;max-width:100%;max-height:calc(100vh - 64px);width:auto;height:auto;
  aspect-ratio:{w}/{h};background:#fff;box-shadow:0 1px 4px #0003}}
.bar{{display:flex;gap:10px;align-items:center;width:min(100%,{w}px);height:44px;flex:none}}
.bar input[type=range]{{flex:1}} button{{min-width:4.5em;padding:6px 10px;font:inherit}}
</style></head><body><div class="tv">
<canvas id="c" width="{w}" height="{h}"></canvas>
<div class="bar"><button id="play" aria-label="play or pause">Pause</button>
<button id="step" aria-label="next frame">Step</button>
<input id="scrub" type="range" min="0" max="{n - 1}" value="0" aria-label="frame">
<span id="label">1 / {n}</span></div></div>
<script>
"use strict";
const F={data};
const LOOP={0 if loop == 0 else 1};
const c=document.getElementById('c'),g=c.getContext('2d'),s=document.getElementById('scrub'),
      b=document.getElementById('play'),st=document.getElementById('step'),lab=document.getElementById('label');
let loaded=0,cur=-1,want=0,playing=true,timer=null;
const imgs=F.map(f=>{{const i=new Image();i.onload=()=>{{loaded++;if(cur<0||want!==cur)show(want);}};i.src=f.src;return i;}});
function key(i){{while(i>0&&!F[i].k)i--;return i;}}
function ready(from,to){{for(let j=from;j<=to;j++)if(!imgs[j].complete||!imgs[j].naturalWidth)return false;return true;}}
function show(i){{
  want=i;
  const from=(cur>=0&&i>cur&&key(i)<=cur)?cur+1:key(i);
  if(!ready(from,i))return false;
  for(let j=from;j<=i;j++){{const f=F[j];if(f.k)g.clearRect(0,0,c.width,c.height);g.drawImage(imgs[j],f.x,f.y);}}
  cur=i;s.value=i;lab.textContent=(i+1)+' / '+F.length;return true;
}}
function tick(){{
  if(!playing)return;
  if(cur!==want){{show(want);timer=setTimeout(tick,20);return;}}
  let n=cur+1;if(n>=F.length){{if(LOOP){{playing=false;b.textContent='Play';return;}}n=0;}}
  show(n);timer=setTimeout(tick,F[n].d);
}}
function pause(){{playing=false;b.textContent='Play';clearTimeout(timer);}}
b.onclick=()=>{{if(playing){{pause();}}else{{playing=true;b.textContent='Pause';tick();}}}};
st.onclick=()=>{{pause();show(Math.min(Math.max(cur,0)+1,F.length-1));}};
s.oninput=()=>{{pause();show(+s.value);}};
show(0);timer=setTimeout(tick,F[0].d);
</script></body></html>
"""
