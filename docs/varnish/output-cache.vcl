# Varnish in front of an app using nestjs-output-cache with the `cdn` option
# (tagsHeader 'Surrogate-Key', controlHeader 'Surrogate-Control') and a VarnishBanPurger.
#
#   - Varnish keeps only what the app tagged: a response without Surrogate-Key is never cached
#     (the app leaves off tags on pages with holes, private vary-by values, pages it did not store).
#   - Surrogate-Control: max-age=N (the `cdn.maxAge` option) sets how long; Varnish itself does
#     not read max-age from Surrogate-Control, so this VCL does. Without it, Cache-Control
#     s-maxage/max-age, then Varnish's default_ttl, apply.
#   - BAN requests from `purgers` evict by tag (X-Ban-Tags: a regex over Surrogate-Key), by URL
#     (X-Ban-Url: a regex over the path) or everything (X-Ban-All). The bans use obj.* only,
#     so the ban lurker applies them in the background.
#   - Requests with a Cookie or Authorization header pass (builtin vcl_recv, which runs after
#     this file's): signed-in visitors and carts never see a shared page.
#
# Start: varnishd -a :6081 -f /etc/varnish/output-cache.vcl -s malloc,256m
vcl 4.1;

import std;

# The app. (The test of this recipe, test/cdn-varnish.e2e-spec.ts, replaces the port.)
backend default {
    .host = "127.0.0.1";
    .port = "3000";
}

# Who may ban: the app's hosts. Keep this list short: a ban empties the cache.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(405, "Not allowed"));
        }
        # std.ban() says when an expression is wrong (a 400 the purger retries, then logs).
        if (req.http.X-Ban-All) {
            set req.http.X-Ban-Done = std.ban("obj.status != 0");
        } else if (req.http.X-Ban-Tags) {
            set req.http.X-Ban-Done = std.ban("obj.http.Surrogate-Key ~ " + req.http.X-Ban-Tags);
        } else if (req.http.X-Ban-Url) {
            set req.http.X-Ban-Done = std.ban("obj.http.X-Url ~ " + req.http.X-Ban-Url);
        } else {
            return (synth(400, "X-Ban-Tags, X-Ban-Url or X-Ban-All required"));
        }
        if (req.http.X-Ban-Done != "true") {
            return (synth(400, "Bad ban: " + std.ban_error()));
        }
        return (synth(200, "Banned"));
    }
    # The builtin vcl_recv follows: non-GET/HEAD and requests with Cookie/Authorization pass.
}

sub vcl_backend_response {
    # For URL bans (prefix evictions), kept on the object, not sent to clients.
    set beresp.http.X-Url = bereq.url;
    if (!beresp.http.Surrogate-Key) {
        # Not tagged by the app: nothing could purge it, so it is not kept (hit-for-miss).
        set beresp.uncacheable = true;
        set beresp.ttl = 120s;
        return (deliver);
    }
    if (beresp.http.Surrogate-Control ~ "max-age=[0-9]+") {
        set beresp.ttl = std.duration(
            regsub(beresp.http.Surrogate-Control, "^.*max-age=([0-9]+).*$", "\1") + "s", 0s);
    }
    # The builtin vcl_backend_response follows: Set-Cookie, Surrogate-Control: no-store,
    # Vary: * and a zero TTL make the response uncacheable.
}

sub vcl_deliver {
    # Tags and the CDN's own control header are for Varnish, not for browsers.
    unset resp.http.X-Url;
    unset resp.http.Surrogate-Control;
    # Shown on request to the purgers only (debugging: which tags did Varnish store?).
    if (!(req.http.X-Show-Surrogate-Key && client.ip ~ purgers)) {
        unset resp.http.Surrogate-Key;
    }
    if (obj.hits > 0) {
        set resp.http.X-Varnish-Cache = "HIT";
    } else {
        set resp.http.X-Varnish-Cache = "MISS";
    }
}
