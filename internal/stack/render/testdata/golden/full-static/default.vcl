vcl 4.1;
# default.vcl of WebStack web/shop, rendered by webstack-operator: do not edit.

import std;

# Misses and passes go to HAProxy's app listener, which queues them for the app pods.
backend app {
    .host = "127.0.0.1";
    .port = "8081";
    .connect_timeout = 5s;
    # A miss may wait in HAProxy's queue (timeouts.queue) before the app answers (timeouts.server).
    .first_byte_timeout = 40s;
    .between_bytes_timeout = 30s;
    .probe = {
        .request =
            "GET /healthz HTTP/1.1"
            "Host: localhost"
            "User-Agent: varnish-probe"
            "Connection: close";
        .expected_response = 200;
        .interval = 5s;
        .timeout = 2s;
        .window = 5;
        .threshold = 3;
        .initial = 3;
    }
}

# Who may PURGE and BAN: loopback and the private networks. HAProxy refuses both methods
# from clients; network policies narrow this down to the app pods.
acl purgers {
    "127.0.0.0"/8;
    "::1";
    "10.0.0.0"/8;
    "172.16.0.0"/12;
    "192.168.0.0"/16;
    "fc00::"/7;
}

sub vcl_recv {
    # PURGE removes one URL (all its variants).
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        return (purge);
    }
    # BAN removes every object whose URL matches the regular expression in X-Ban-Url (no
    # spaces: URLs have none).
    if (req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (!req.http.X-Ban-Url) {
            return (synth(400, "BAN needs an X-Ban-Url header with a regular expression"));
        }
        if (std.ban("obj.http.X-Url ~ " + req.http.X-Ban-Url)) {
            return (synth(200, "Banned"));
        }
        return (synth(400, std.ban_error()));
    }
    if (req.url == "/.varnish/health") {
        return (synth(200, "OK"));
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # Cache rules (spec.cache.rules), first match wins.
    if (req.url ~ "^/static/") {
        # rule 1: pathPrefix /static/, ttl 24h0m0s, ignoreCookies
        unset req.http.Cookie;
    } elsif (req.url ~ "^/api/") {
        # rule 2: pathRegex ^/api/, pass
        return (pass);
    } elsif (req.url ~ "^/news/") {
        # rule 3: pathPrefix /news/, ttl 30s
    }
    # Requests of logged-in users are personal: never cached.
    if (req.http.Authorization || req.http.Cookie) {
        return (pass);
    }
    return (hash);
}

sub vcl_backend_response {
    # The URL on the object lets the ban lurker process BANs in the background.
    set beresp.http.X-Url = bereq.url;
    set beresp.grace = 3600s;
    if (bereq.uncacheable) {
        return (deliver);
    }
    # The same rules as in vcl_recv, in the same order.
    if (bereq.url ~ "^/static/") {
        # rule 1: pathPrefix /static/, ttl 24h0m0s, ignoreCookies
        unset beresp.http.Set-Cookie;
        set beresp.ttl = 86400s;
    } elsif (bereq.url ~ "^/api/") {
        # rule 2: pathRegex ^/api/, pass
    } elsif (bereq.url ~ "^/news/") {
        # rule 3: pathPrefix /news/, ttl 30s
        set beresp.ttl = 30s;
    }
    if (beresp.status >= 500 && bereq.is_bgfetch) {
        # Keep serving the stale object rather than caching an error.
        return (abandon);
    }
    if (beresp.status != 200 && beresp.status != 203 && beresp.status != 204 &&
        beresp.status != 300 && beresp.status != 301 && beresp.status != 304 &&
        beresp.status != 404 && beresp.status != 410 && beresp.status != 414) {
        # Only the statuses Varnish caches by default; never errors or 302 redirects.
        set beresp.ttl = 120s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    # Responses without a rule keep the TTL of their Cache-Control or Expires, else
    # default_ttl. Personal or uncacheable responses are never cached, whatever the rule:
    # remember that for 2 minutes so that requests for them do not wait for each other.
    if (beresp.ttl <= 0s || beresp.http.Set-Cookie ||
        beresp.http.Cache-Control ~ "(?i)(private|no-store|no-cache)" ||
        beresp.http.Vary == "*") {
        set beresp.ttl = 120s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    return (deliver);
}

sub vcl_deliver {
    unset resp.http.X-Url;
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
