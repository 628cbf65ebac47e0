#!/usr/bin/python3
"""Publishes notifications with OpenStack's own notifier, oslo.messaging.

The event tests use it so that what the consumer reads is the format
OpenStack services really send (envelope, context fields, message ids,
timestamps, exchanges and routing keys), not our idea of it.

    oslo-notify.py TRANSPORT_URL < notifications.jsonl

TRANSPORT_URL is e.g. rabbit://user:password@127.0.0.1:5672/vhost. Each input
line is a JSON object:

    {"exchange": "neutron",          # control_exchange of the service
     "driver": "messagingv2",        # or "messaging" (the 1.0 format)
     "topic": "notifications",       # or "versioned_notifications"
     "publisher_id": "network.controller-1",
     "event_type": "port.update.end",
     "payload": {...},
     "context": {"project_id": "..."}}   # optional

It prints one line per notification sent and exits non-zero on the first
failure (the notifier itself only logs failures).
"""
import json
import logging
import sys

from oslo_config import cfg
import oslo_messaging


class Failed(logging.Handler):
    """Turns the notifier's logged send failures into an exit status."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    url = sys.argv[1]
    failed = Failed()
    logging.getLogger().addHandler(failed)
    transports, notifiers = {}, {}
    sent = 0
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            n = json.loads(line)
            exchange = n.get("exchange", "neutron")
            driver = n.get("driver", "messagingv2")
            topic = n.get("topic", "notifications")
            if exchange not in transports:
                # The default exchange is read when a transport is made, so
                # each service gets a transport of its own.
                oslo_messaging.set_transport_defaults(control_exchange=exchange)
                conf = cfg.ConfigOpts()
                conf([], project="multinic-test", default_config_files=[], default_config_dirs=[])
                transports[exchange] = oslo_messaging.get_notification_transport(conf, url=url)
            key = (exchange, driver, topic, n["publisher_id"])
            if key not in notifiers:
                notifiers[key] = oslo_messaging.Notifier(
                    transports[exchange], publisher_id=n["publisher_id"],
                    driver=driver, topics=[topic], retry=3)
            notifiers[key].info(n.get("context", {}), n["event_type"], n["payload"])
            if failed.records:
                print("oslo-notify: " + failed.records[0].getMessage(), file=sys.stderr)
                return 1
            sent += 1
            print("sent %s %s via %s/%s.info (%s)" % (n["event_type"], n["publisher_id"], exchange, topic, driver),
                  flush=True)
    finally:
        for t in transports.values():
            t.cleanup()
    print("oslo-notify: %d sent" % sent, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
