"""Images and videos as the captioning task reads them: uint8 (channels, height, width)
arrays at the run's saved size (data.image_*), whatever the file holds.

    load_image("a.png", 32, 32, 3)      # (3, 32, 32): grey, 16-bit, palette, alpha alike
    load_frames("clip.npy", 32, 32, 1)  # (T, 1, 32, 32): a .npy of frames, or a folder

Pillow reads the files; it is imported where used (the `caption` extra). Every file that
cannot be read is one line naming it.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from seq2seq.config.extras import requires


def is_video(path: Path) -> bool:
    """A video is an array of frames (.npy) or a folder of frame images."""
    return path.suffix.lower() == ".npy" or path.is_dir()


def load_image(path: Path, height: int, width: int, channels: int) -> np.ndarray:
    """uint8 (channels, height, width); channels 1 (grey, PIL 'L') or 3 (RGB; alpha
    composited on white). Resized with PIL bilinear only when the size differs."""
    try:
        return _decoded(path, str(path), height, width, channels)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such image file") from None


def image_from_bytes(data: bytes, name: str, height: int, width: int, channels: int,
                     max_pixels: int) -> np.ndarray:
    """An image file's bytes (an upload, called `name`) as load_image reads a file; one
    of more than `max_pixels` pixels is refused before it is decoded."""
    return _decoded(io.BytesIO(data), name, height, width, channels, max_pixels)


def _decoded(source: Any, name: str, height: int, width: int, channels: int,
             max_pixels: int = 0) -> np.ndarray:
    if channels not in (1, 3):
        raise ValueError(f"channels={channels}: 1 (grey) or 3 (RGB)")
    Image = _pil()
    try:
        with Image.open(source) as image:
            if max_pixels and image.width * image.height > max_pixels:
                raise ImageTooLarge(f"{name}: {image.width} x {image.height} pixels; at most "
                                f"{max_pixels}")
            image.load()  # decode now: a truncated file fails here, not later
            return _pixels(_eight_bits(image), height, width, channels)
    except (FileNotFoundError, ImageTooLarge):
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{name}: not a readable image ({_one_line(exc)})") from None


class ImageTooLarge(ValueError):
    """An image with more pixels than a caller reads."""


def load_frames(path: Path, height: int, width: int, channels: int) -> np.ndarray:
    """uint8 (T, channels, height, width): a .npy of shape (T, H, W) or (T, H, W, C), uint8
    or float in [0,1] (scaled by 255), or a folder of frame images sorted by name."""
    if channels not in (1, 3):
        raise ValueError(f"channels={channels}: 1 (grey) or 3 (RGB)")
    Image = _pil()
    if path.is_dir():
        known = set(Image.registered_extensions())
        # names sorted with digits by value, so frame_2 comes before frame_10
        files = sorted((f for f in path.iterdir() if f.suffix.lower() in known),
                       key=lambda f: [int(t) if t.isdigit() else t
                                      for t in re.split(r"(\d+)", f.name)])
        if not files:
            raise ValueError(f"{path}: no frame images in the folder")
        return np.stack([load_image(f, height, width, channels) for f in files])
    frames = _frame_array(path)
    # fromarray reads (H, W) as 'L', (H, W, 3) as 'RGB', (H, W, 4) as 'RGBA'
    return np.stack([_pixels(Image.fromarray(frame), height, width, channels)
                     for frame in frames])


def _frame_array(path: Path) -> np.ndarray:
    """A .npy's frames as uint8 (T, H, W, C), C 1, 3 or 4."""
    try:
        frames = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such frames file") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npy array ({_one_line(exc)})") from None
    if frames.ndim == 3:
        frames = frames[..., None]  # grey (T, H, W) -> (T, H, W, 1)
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3, 4) or len(frames) == 0:
        raise ValueError(f"{path}: frames of shape {frames.shape}, expected (T, H, W) or "
                         "(T, H, W, C) with T > 0 and C 1, 3 or 4")
    if np.issubdtype(frames.dtype, np.floating):
        if not ((frames >= 0) & (frames <= 1)).all():  # NaN fails both comparisons too
            raise ValueError(f"{path}: float frames outside [0, 1] (uint8 for 0..255)")
        frames = np.round(frames * 255).astype(np.uint8)
    elif frames.dtype != np.uint8:
        raise ValueError(f"{path}: frames of dtype {frames.dtype}, expected uint8 or float")
    return frames[..., 0] if frames.shape[-1] == 1 else frames  # PIL 'L' wants (H, W)


def _eight_bits(image: Any) -> Any:
    """A 16-bit, 32-bit integer or float grey image as 8-bit 'L' (or 'LA' where it names a
    transparent value); any other image as it is. Pillow's convert clips such values at
    255, so a 16-bit image would read as all white."""
    Image = _pil()
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not ((values >= 0) & (values <= 1)).all():  # NaN fails both comparisons too
            raise ValueError("float pixels outside [0, 1], the range seq2seq reads; "
                             "save it as 8- or 16-bit")
        return Image.fromarray(np.round(values * 255).astype(np.uint8))
    if image.mode != "I" and not image.mode.startswith("I;16"):
        return image
    values = np.asarray(image).astype(np.int64)  # any byte order, as plain numbers
    if values.min() < 0 or values.max() > 65535:
        # a 16-bit PNG or TIFF opens as 'I' too: its values are all a range can be taken from
        raise ValueError("32-bit pixels outside 0..65535, the range seq2seq reads; "
                         "save it as 8- or 16-bit")
    grey = Image.fromarray(((values + 128) // 257).astype(np.uint8))  # rounds v / 257
    transparent = image.info.get("transparency")
    if not isinstance(transparent, int):
        return grey
    # the transparent value is matched at 16 bits: at 8 bits it would catch its neighbours
    alpha = Image.fromarray(np.where(values == transparent, 0, 255).astype(np.uint8))
    return Image.merge("LA", (grey, alpha))


def _pixels(image: Any, height: int, width: int, channels: int) -> np.ndarray:
    """A PIL image as uint8 (channels, height, width)."""
    Image = _pil()
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # transparent pixels keep whatever colour they hold: white is what a viewer shows
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _pil() -> Any:
    return requires("PIL.Image", "caption", "task=captioning (reading images)")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
