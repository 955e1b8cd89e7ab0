# Small records on the board's flash (LittleFS on the RP2040; a directory in the simulator).
# Every write goes to a temporary file that is then renamed over the old one, so a power cut
# leaves either the old record or the new one.

import os


class FileStore:
    def __init__(self, root="state"):
        self.root = root
        try:
            os.mkdir(root)
        except OSError:
            pass  # already there

    def _path(self, name):
        return self.root + "/" + name

    def read(self, name):
        """The record's bytes, or None."""
        try:
            with open(self._path(name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, name, data):
        path = self._path(name)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)

    def exists(self, name):
        try:
            os.stat(self._path(name))
            return True
        except OSError:
            return False

    def remove(self, name):
        try:
            os.remove(self._path(name))
        except OSError:
            pass
