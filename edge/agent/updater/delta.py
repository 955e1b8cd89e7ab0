"""Apply a delta download: zstd whose prefix is the installed release's bundle.

The fleet makes it with the same prefix (fleet/updates/delta.py). The output is bounded by the
full bundle's signed length, and the caller accepts it only if TUF verifies it as the full
target; anything else falls back to downloading the full bundle.
"""

from __future__ import annotations

from backports.zstd import DecompressionParameter, ZstdDecompressor, ZstdDict, ZstdError

from edge.agent.updater.errors import UpdaterError

MAX_WINDOW_LOG = 30


class DeltaError(UpdaterError):
    """The delta does not apply: fall back to the full bundle."""


def apply_delta(old: bytes, delta: bytes, max_length: int) -> bytes:
    decompressor = ZstdDecompressor(
        zstd_dict=ZstdDict(old, is_raw=True).as_prefix,
        options={DecompressionParameter.window_log_max: MAX_WINDOW_LOG},
    )
    try:
        out = decompressor.decompress(delta, max_length=max_length + 1)
    except ZstdError as exc:
        raise DeltaError(f"the delta does not apply: {exc}") from exc
    if len(out) > max_length or not decompressor.eof:
        raise DeltaError("the delta does not produce the signed bundle (too long or truncated)")
    return out
