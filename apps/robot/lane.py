"""Lane-keeping plant: a differential-drive robot on a 2D track, seen by an emulated event camera.

After Bing et al. 2018 (ICRA, "End to end learning of spiking neural network based on
R-STDP for a lane keeping vehicle"), whose Pioneer robot drove on a V-REP track with a
DVS looking ahead at two lane markings. Here:

    track     closed centre line (metres, sampled every ~1 cm), lane of fixed width,
              markings drawn with OpenCV as two dashed lines on a dark floor
    robot     pose (x, y, heading); wheel speeds (m/s) integrated exactly (unicycle arcs)
    camera    a forward-looking top-down crop of the floor image ahead of the robot
              (cv2.warpAffine around the pose), `camera_px` at `px_per_m`, one frame per
              control step; frames -> events by the frame-to-event emulator's kernels
              (sources/_dvs_emulator_kernels.py, the same pixel model as the
              `dvs_emulator` stage, called per frame without the stage's chunk wrapping)
    error     signed lateral distance (m) from the centre line, positive to the left of
              the driving direction; the robot left the lane once |error| > width / 2
    laps      arc length travelled along the centre line / track length

Markings are dashed on purpose: a solid line parallel to the motion looks the same
after a step forward, so a DVS sees nothing while the robot drives straight (Bing et
al. got events from turning); dash ends move through the view whenever the robot moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.errors import ConfigError
from pipeline.events import EVENT_DTYPE

# -- tracks ------------------------------------------------------------------------------


def _rounded_rectangle(straight_x: float = 3.0, straight_y: float = 1.6, radius: float = 1.0) -> np.ndarray:
    """Counter-clockwise rounded rectangle: straights of straight_x, straight_y (m), corners of radius (m)."""
    hx, hy = straight_x / 2, straight_y / 2
    pts = []
    corners = ((hx, -hy, -np.pi / 2), (hx, hy, 0.0), (-hx, hy, np.pi / 2), (-hx, -hy, np.pi))
    for cx, cy, a0 in corners:
        a = np.linspace(a0, a0 + np.pi / 2, 400)
        pts.append(np.stack([cx + radius * np.cos(a), cy + radius * np.sin(a)], 1))
    return np.concatenate(pts)


def _polar(r: Callable[[np.ndarray], np.ndarray], sx: float = 1.0, sy: float = 1.0) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, 2048, endpoint=False)
    rr = r(a)
    return np.stack([sx * rr * np.cos(a), sy * rr * np.sin(a)], 1)


#: centre lines (counter-clockwise, metres); radii of curvature stay >= ~0.8 m
TRACKS: dict[str, Callable[[], np.ndarray]] = {
    "oval": _rounded_rectangle,  # the training track: straights and 90-degree corners
    "ellipse": lambda: _polar(lambda a: np.ones_like(a), 3.0, 1.9),  # curvature varies smoothly
    "wavy": lambda: _polar(lambda a: 2.6 + 0.35 * np.sin(3 * a)),  # three lobes: S-bends, left and right turns
    "bean": lambda: _polar(lambda a: 2.3 + 0.55 * np.cos(2 * a), 1.3, 1.0),  # two concave flanks
}
TRAIN_TRACK = "oval"
TEST_TRACK = "wavy"


class Track:
    """A closed lane: centre line resampled every `step_m`, arc length, unit tangents and left normals.

    Parameters: centre ([n, 2] closed polyline, m, driving direction = point order);
    lane_width_m; name; step_m (resampling interval, m).
    """

    def __init__(self, centre: np.ndarray, lane_width_m: float = 0.6, name: str = "", step_m: float = 0.01) -> None:
        c = np.asarray(centre, np.float64)
        if c.ndim != 2 or c.shape[1] != 2 or c.shape[0] < 8:
            raise ConfigError(f"track {name!r}: centre must be [n >= 8, 2] points, got shape {c.shape}")
        if not lane_width_m > 0:
            raise ConfigError(f"track {name!r}: lane_width_m must be > 0, got {lane_width_m}")
        closed = np.vstack([c, c[:1]])
        seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        self.length_m = float(s[-1])
        n = max(8, int(round(self.length_m / step_m)))
        u = np.linspace(0.0, self.length_m, n, endpoint=False)
        self.points = np.stack([np.interp(u, s, closed[:, 0]), np.interp(u, s, closed[:, 1])], 1)
        self.s = u
        d = np.roll(self.points, -1, axis=0) - self.points
        self.seg_len = np.linalg.norm(d, axis=1)
        self.tangent = d / self.seg_len[:, None]
        self.normal = np.stack([-self.tangent[:, 1], self.tangent[:, 0]], 1)  # left of the driving direction
        self.lane_width_m = float(lane_width_m)
        self.name = name

    @classmethod
    def named(cls, name: str, reverse: bool = False, lane_width_m: float = 0.6) -> Track:
        """A track of TRACKS; reverse drives it clockwise (the other turn direction)."""
        if name not in TRACKS:
            raise ConfigError(f"lane track {name!r}: unknown; known: {sorted(TRACKS)}")
        centre = TRACKS[name]()
        return cls(centre[::-1] if reverse else centre, lane_width_m, name + (" (reversed)" if reverse else ""))

    def pose_at(self, s_m: float, offset_m: float = 0.0) -> tuple[float, float, float]:
        """(x, y, heading rad) at arc length s_m, offset_m to the left of the centre line, heading along it."""
        i = int(np.searchsorted(self.s, s_m % self.length_m, side="right") - 1)
        p = self.points[i] + self.tangent[i] * (s_m % self.length_m - self.s[i]) + self.normal[i] * offset_m
        return float(p[0]), float(p[1]), float(np.arctan2(self.tangent[i, 1], self.tangent[i, 0]))

    def project(self, xy: np.ndarray, hint: int, window: int = 80) -> tuple[int, float, float]:
        """(segment index, arc length m, signed lateral error m) of point xy, searching the
        segments within `window` of `hint` (a local search, so lanes passing close by in
        another part of the track are never mistaken for this one)."""
        n = self.points.shape[0]
        idx = (hint + np.arange(-window, window + 1)) % n
        rel = np.asarray(xy, np.float64) - self.points[idx]
        along = np.clip(np.einsum("ij,ij->i", rel, self.tangent[idx]), 0.0, self.seg_len[idx])
        foot = self.points[idx] + self.tangent[idx] * along[:, None]
        dist2 = np.sum((xy - foot) ** 2, axis=1)
        k = int(np.argmin(dist2))
        i = int(idx[k])
        side = 1.0 if float(np.dot(np.asarray(xy) - self.points[i], self.normal[i])) >= 0 else -1.0
        return i, float(self.s[i] + along[k]), side * float(np.sqrt(dist2[k]))


# -- rendering and the event camera ------------------------------------------------------------


def render_floor(track: Track, px_per_m: float = 50.0, margin_m: float = 1.2, line_m: float = 0.04,
                 dash_m: float = 0.2, floor: int = 40, paint: int = 230) -> tuple[np.ndarray, np.ndarray]:
    """Floor image (uint8, grey) with the lane's two markings, and the 2x3 affine map from world
    metres to its pixels. dash_m: length of dashes and of gaps (0 = solid lines)."""
    import cv2

    lo = track.points.min(0) - margin_m
    hi = track.points.max(0) + margin_m
    w, h = (np.ceil((hi - lo) * px_per_m)).astype(int)
    to_px = np.array([[px_per_m, 0.0, -lo[0] * px_per_m], [0.0, -px_per_m, hi[1] * px_per_m]])
    img = np.full((h, w), floor, np.uint8)
    thickness = max(1, int(round(line_m * px_per_m)))
    shift = 4  # sub-pixel vertex positions (cv2 fixed point) so markings are not jagged
    for side in (-1.0, 1.0):
        edge = track.points + side * track.normal * track.lane_width_m / 2
        px = (edge @ to_px[:, :2].T + to_px[:, 2]) * (1 << shift)
        if dash_m > 0:
            on = (track.s // dash_m).astype(int) % 2 == 0
            starts = np.flatnonzero(on & ~np.roll(on, 1))
            ends = np.flatnonzero(on & ~np.roll(on, -1))
            ends = np.concatenate([ends[ends >= starts[0]], ends[ends < starts[0]]])
            pieces = [np.take(px, np.arange(a, b + 2 if b >= a else b + 2 + len(px)), axis=0, mode="wrap")
                      for a, b in zip(starts, ends)]
        else:
            pieces = [np.vstack([px, px[:1]])]
        cv2.polylines(img, [p.astype(np.int32) for p in pieces], False, paint, thickness, cv2.LINE_AA, shift)
    return img, to_px


def camera_map(pose: tuple[float, float, float], to_px: np.ndarray, size: tuple[int, int], px_per_m: float,
               near_m: float) -> np.ndarray:
    """2x3 affine map from camera pixels (u right, v down; the top row farthest ahead) to floor
    pixels, for cv2.warpAffine with WARP_INVERSE_MAP."""
    x, y, th = pose
    w, h = size
    fwd = np.array([np.cos(th), np.sin(th)])
    left = np.array([-np.sin(th), np.cos(th)])
    # world point of camera pixel centre (u, v): forward near + (h - v - 0.5)/s, lateral (w/2 - u - 0.5)/s
    origin = np.array([x, y]) + fwd * (near_m + (h - 0.5) / px_per_m) + left * ((w / 2 - 0.5) / px_per_m)
    du, dv = -left / px_per_m, -fwd / px_per_m
    world = np.array([[du[0], dv[0], origin[0]], [du[1], dv[1], origin[1]], [0.0, 0.0, 1.0]])
    return (to_px @ world)


@dataclass
class EventCamera:
    """The `dvs_emulator` stage's pixel model run on one frame at a time (no leak, optional
    shot noise). Parameters as DVSEmulator: thresholds (natural-log contrast), mismatch,
    refractory_us, shot_noise_rate_hz (per pixel), log_eps, seed."""

    on_threshold: float = 0.2
    off_threshold: float = 0.2
    threshold_sigma: float = 0.03
    refractory_us: int = 0
    shot_noise_rate_hz: float = 0.0
    log_eps: float = 0.02
    seed: int = 0

    def reset(self, frame: np.ndarray, t_us: int) -> None:
        """Start from `frame` (uint8 grey) at t_us: references at its log intensity."""
        from sources._dvs_emulator_kernels import pixel_thresholds

        self._log = np.log(frame.reshape(-1) / 255.0 + self.log_eps)
        n = self._log.shape[0]
        self._on, self._off, phase = np.empty(n), np.empty(n), np.empty(n)
        pixel_thresholds(int(self.seed), n, float(self.on_threshold), float(self.off_threshold),
                         float(self.threshold_sigma), self._on, self._off, phase)
        self._ref = self._log.copy()
        self._last = np.full(n, -(2**62), np.int64)
        self._t = int(t_us)
        self._frame = 1  # the stage counts the first frame too: same shot-noise draws
        self._width = frame.shape[1]

    def events(self, frame: np.ndarray, t_us: int) -> np.ndarray:
        """Events (EVENT_DTYPE, sorted by t then pixel, p 1 ON / 0 OFF) between the last frame and `frame` at t_us."""
        from sources._dvs_emulator_kernels import interval_events

        log1 = np.log(frame.reshape(-1) / 255.0 + self.log_eps)
        dt = int(t_us) - self._t
        cap = int(np.abs(log1 - self._log).sum() / min(self._on.min(), self._off.min())) + 64
        cap += int(4 * self.shot_noise_rate_hz * dt * 1e-6 * log1.shape[0])
        while True:
            out_t, out_i, out_p = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int8)
            ref, last = self._ref.copy(), self._last.copy()
            k = interval_events(self._log, log1, self._t, int(t_us), self._frame, ref, last, self._on, self._off,
                                int(self.refractory_us), 0.0, float(self.shot_noise_rate_hz) * 1e-6, int(self.seed),
                                self._width, out_t, out_i, out_p)
            if k >= 0:
                break
            cap *= 4
        self._ref, self._last, self._log, self._t = ref, last, log1, int(t_us)
        self._frame += 1
        order = np.lexsort((out_i[:k], out_t[:k]))
        ev = np.empty(k, EVENT_DTYPE)
        ev["t"], ev["p"] = out_t[:k][order], out_p[:k][order]
        ev["x"], ev["y"] = out_i[:k][order] % self._width, out_i[:k][order] // self._width
        return ev


# -- the plant ---------------------------------------------------------------------------------


class LanePlant:
    """Differential-drive robot on `track`, its camera frames turned into events.

    Parameters: track; control_hz (frames and wheel commands per second); axle_m (wheel
    separation); px_per_m (floor and camera scale); camera_px (width, height); near_m
    (floor distance ahead of the robot seen by the bottom camera row); dash_m (marking
    dashes, 0 = solid); camera (EventCamera parameters as a dict); max_laps (episode ends
    after this many laps).
    """

    def __init__(self, track: Track, control_hz: float = 20.0, axle_m: float = 0.2, px_per_m: float = 50.0,
                 camera_px: tuple[int, int] = (64, 32), near_m: float = 0.1, dash_m: float = 0.2,
                 camera: dict | None = None, max_laps: float = 1.0) -> None:
        if not control_hz > 0 or not axle_m > 0 or not px_per_m > 0:
            raise ConfigError(f"lane plant: control_hz, axle_m and px_per_m must be > 0, got "
                              f"{control_hz}, {axle_m}, {px_per_m}")
        self.track = track
        self.dt_us = int(round(1e6 / control_hz))
        self.axle_m = float(axle_m)
        self.px_per_m = float(px_per_m)
        self.camera_px = (int(camera_px[0]), int(camera_px[1]))
        self.near_m = float(near_m)
        self.max_laps = float(max_laps)
        self.floor, self.to_px = render_floor(track, px_per_m, dash_m=dash_m)
        self.camera = EventCamera(**(camera or {}))

    def reset(self, s_m: float = 0.0, offset_m: float = 0.0, heading_rad: float = 0.0) -> dict:
        """Place the robot at arc length s_m, offset_m left of the centre, heading_rad off the
        lane direction; the camera starts from this view (no events yet)."""
        x, y, th = self.track.pose_at(s_m, offset_m)
        self.pose = (x, y, th + heading_rad)
        self.t_us = 0
        self.steps = 0
        self._index, self._s, self.error_m = self.track.project(np.array([x, y]), 0, window=self.track.points.shape[0])
        self.progress_m = 0.0
        self.camera.reset(self.frame(), 0)
        return {"events": np.empty(0, EVENT_DTYPE), "error_m": self.error_m, "done": False, "left_lane": False}

    def frame(self) -> np.ndarray:
        """The camera view (uint8 [height, width]) at the current pose."""
        import cv2

        m = camera_map(self.pose, self.to_px, self.camera_px, self.px_per_m, self.near_m)
        return cv2.warpAffine(self.floor, m, self.camera_px, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=int(self.floor[0, 0]))

    def step(self, v_left: float, v_right: float) -> dict:
        """Drive with wheel speeds (m/s) for one control period; returns the new camera events,
        lateral error (m), whether the robot left the lane and whether the episode is over."""
        x, y, th = self.pose
        dt = self.dt_us * 1e-6
        v, w = 0.5 * (v_left + v_right), (v_right - v_left) / self.axle_m
        if abs(w) < 1e-9:  # exact unicycle integration: a straight line or a circular arc
            x, y = x + v * dt * np.cos(th), y + v * dt * np.sin(th)
        else:
            x += v / w * (np.sin(th + w * dt) - np.sin(th))
            y -= v / w * (np.cos(th + w * dt) - np.cos(th))
        th = (th + w * dt + np.pi) % (2 * np.pi) - np.pi
        self.pose = (float(x), float(y), float(th))
        self.t_us += self.dt_us
        self.steps += 1
        i, s, self.error_m = self.track.project(np.array([x, y]), self._index)
        ds = (s - self._s + self.track.length_m / 2) % self.track.length_m - self.track.length_m / 2
        self.progress_m += ds
        self._index, self._s = i, s
        events = self.camera.events(self.frame(), self.t_us)
        left = abs(self.error_m) > self.track.lane_width_m / 2
        return {"events": events, "error_m": self.error_m, "left_lane": left,
                "done": left or self.laps >= self.max_laps}

    @property
    def laps(self) -> float:
        """Laps driven in the driving direction (arc length along the centre line / track length)."""
        return self.progress_m / self.track.length_m
