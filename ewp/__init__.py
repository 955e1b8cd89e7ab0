"""ewp: the field stack of the e-WorkPermit service.

The `ewp` package is the command line and the glue (demo orchestration); the parts themselves
live in the sibling packages `protocol`, `edge`, `fleet` and `simulators` (see
docs/architecture.md).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ewp")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
