"""The station's updater: verify with TUF, download with resume, install side by side, switch,
prove health after the restart, roll back on its own.

- ``tuf_client``: ``tuf.ngclient.Updater`` over the fleet's repository, refusals with reasons;
- ``download``: HTTP Range + If-Range into ``.part``, bandwidth cap, yields to the outbox;
- ``delta``: zstd deltas against the installed bundle;
- ``layout``: ``releases/<version>/``, the ``current`` and ``previous`` symlinks, the pending
  switch and its boot counter, rollback;
- ``health``: the checks the new version must pass before it reports success;
- ``station``: an offer in, ``UpdateStatus`` reports out;
- ``__main__``: ``python -m edge.agent.updater boot|rollback|status`` for the systemd units.

See docs/updates.md.
"""
