"""Where a secret comes from: a file (first line) or an environment variable; placeholder
values are refused. Used by every settings section that needs a secret."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

PLACEHOLDERS = {"", "changeme", "change-me", "password", "secret", "admin", "test", "xxx"}


class SecretRef(BaseModel):
    """Where a secret comes from: a file (first line) or an environment variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Path | None = None
    env: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.file is None) == (self.env is None):
            raise ValueError("give exactly one of `file` or `env`")
        return self

    def read(self, what: str) -> str:
        if self.env is not None:
            value = os.environ.get(self.env, "")
            source = f"environment variable {self.env}"
        else:
            assert self.file is not None
            try:
                value = self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read {what} from {self.file}: {exc.strerror}") from exc
            source = str(self.file)
        if value.lower() in PLACEHOLDERS or len(value) < 16:
            raise ValueError(
                f"{what} from {source} is empty, a placeholder or shorter than 16 characters: "
                "generate one with `ewp fleet init`"
            )
        return value
