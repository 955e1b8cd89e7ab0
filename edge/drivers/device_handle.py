"""What every driver's handle on its device does the same way: used in ``with``, it is closed on
the way out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self


class DeviceHandle(ABC):
    """A driver's handle on its device: ``with Driver(...) as driver:`` closes it after."""

    @abstractmethod
    def close(self) -> None:
        """Let go of the device (what that means is the driver's)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
