"""PURGE of cached pages in Varnish.

Varnish caches a page under its URL and Host header, so a PURGE carries each public Host
(SHOP_PUBLIC_HOSTS). It goes to every Varnish straight, never through HAProxy's public
frontend, which refuses PURGE. HAProxy spreads URLs over the Varnish replicas, so a PURGE
sent to a ClusterIP Service would reach one replica at random: SHOP_VARNISH_URLS names the
headless Service instead, and every address it resolves to gets the PURGE. Varnish accepts
PURGE only from loopback and the private networks.
"""
import http.client
import logging
import socket
from urllib.parse import urlsplit

from django.conf import settings

log = logging.getLogger(__name__)


def purge(*paths):
    """Sends PURGE for each path to every Varnish address, once per public host. Returns the
    number of PURGEs Varnish answered with 200; failures are logged, never raised: a missed
    purge leaves a page stale until its TTL, which is no reason to fail a save."""
    purged = 0
    for base in settings.SHOP_VARNISH_URLS:
        target = urlsplit(base)
        port = target.port or 80
        for address in _addresses(target.hostname, port):
            for host in settings.SHOP_PUBLIC_HOSTS or [target.netloc]:
                for path in paths:
                    if _purge(address, port, host, path):
                        purged += 1
    return purged


def _addresses(hostname, port):
    """Every address of hostname: one per ready pod of a headless Service."""
    try:
        infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    except OSError as err:
        log.warning("PURGE: resolving %s: %s", hostname, err)
        return []
    return sorted({info[4][0] for info in infos})


def _purge(address, port, host, path):
    conn = http.client.HTTPConnection(address, port, timeout=settings.SHOP_PURGE_TIMEOUT)
    try:
        conn.request("PURGE", path, headers={"Host": host})
        status = conn.getresponse().status
    except OSError as err:
        log.warning("PURGE %s (Host %s) at %s:%s: %s", path, host, address, port, err)
        return False
    finally:
        conn.close()
    if status != 200:
        log.warning("PURGE %s (Host %s) at %s:%s: status %s", path, host, address, port, status)
    return status == 200
