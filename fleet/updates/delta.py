"""Deltas between release bundles: zstd with the old bundle as a raw prefix.

``ZstdDict(old, is_raw=True).as_prefix`` lets the compressor refer to any run of the old bundle,
so a release that changed one module costs roughly that module's compressed size. The station
applies it with the same prefix (edge/agent/updater/delta.py) and accepts the result only if it
matches the full bundle's TUF hashes.
"""

from __future__ import annotations

import math

from backports.zstd import CompressionParameter, ZstdCompressor, ZstdDict

LEVEL = 19
MAX_WINDOW_LOG = 30  # 1 GiB: far beyond any bundle; the station's decompressor is told the same


def window_log(old_size: int, new_size: int) -> int:
    """The window that lets the new bundle's end refer back to the old bundle's start."""
    return max(20, min(MAX_WINDOW_LOG, math.ceil(math.log2(old_size + new_size + 1))))


def make_delta(old: bytes, new: bytes) -> bytes:
    compressor = ZstdCompressor(
        options={
            CompressionParameter.compression_level: LEVEL,
            CompressionParameter.window_log: window_log(len(old), len(new)),
            CompressionParameter.enable_long_distance_matching: 1,
            CompressionParameter.checksum_flag: 1,
        },
        zstd_dict=ZstdDict(old, is_raw=True).as_prefix,
    )
    return compressor.compress(new, ZstdCompressor.FLUSH_FRAME)
