"""`ewp demo`: the whole system on one machine: broker, fleet service and a simulated fleet.

Every station is a real `ewp agent run` process with its own simulated fingerprint sensor (the
simulators run in one `ewp sim fingerprint --count N` process, one sensor per TCP port). Mobile
units reach the broker through fault-injecting proxies; some lose their link for part of the
run and catch up later. At the end the demo checks, packet by packet, that what the stations
created is what the fleet stored (same hash, exactly once) and that the central key opens it.

One module per job: ``options`` (what to run), ``fleet`` (the broker and the fleet service),
``sensors`` (the simulated devices), ``stations`` (each station's registration, configuration
and outbox), ``watch`` (the progress while the fleet enrols, links cut and restored), ``check``
(what the stations created against what the fleet stored), ``summary`` (the result and its
table) and ``run`` (the run from start to stop, and the live fleet held after the summary).
``--kiosk`` and ``--rollout`` are ewp/kiosk_demo.py and ewp/demo_rollout.py.
"""
