vcl 4.1;

# Varnish 7.1 in front of livelog's reader port with
# LIVELOG_SHARED_CACHE_SECS set: every reader of the log from its start is
# served from one backend fetch, streamed to all of them while the upload
# goes on, and from the cache once it is complete (even after livelog has
# exited), for as long as livelog's Surrogate-Control allows. Everything
# else (ranges, line views, event streams, the outline, search, the viewer)
# is passed to livelog as the client sent it.

import std;

backend livelog {
    .host = "127.0.0.1";
    .port = "60023";
    # A build step may print nothing for many minutes: the fetch of a live
    # log waits for its next bytes that long (Varnish's default, 60 s,
    # would end it, and every reader with it, incomplete).
    .between_bytes_timeout = 3600s;
}

sub vcl_recv {
    if (req.method == "GET" && req.url ~ "^/log/[^/?]+$" && !req.http.Range
        && !req.http.Authorization && req.http.Accept !~ "text/event-stream") {
        # One representation for every reader: the log's own bytes. (Varnish
        # would otherwise ask for gzip and gunzip it for each reader in
        # 32 KiB pieces, which holds a live line back.)
        unset req.http.Accept;
        unset req.http.Accept-Encoding;
        unset req.http.Cookie;
        # A reader follows a live log for as long as the task runs.
        set sess.send_timeout = 86400s;
        return (hash);
    }
    return (pass);
}

sub vcl_hash {
    # The token in the path names the log; hosts are many names for one
    # livelog.
    hash_data(req.url);
    return (lookup);
}

sub vcl_backend_fetch {
    if (!bereq.uncacheable) {
        # Varnish asks for gzip on every fetch it may cache
        # (http_gzip_support); the log is cached as its own bytes.
        unset bereq.http.Accept-Encoding;
    }
}

sub vcl_backend_response {
    if (beresp.http.Surrogate-Control ~ "max-age=[0-9]+") {
        # Surrogate-Control is for this cache alone (W3C Edge Architecture
        # 1.0): its max-age is the object's lifetime, and it is removed;
        # Cache-Control: no-store goes on to browsers unchanged.
        set beresp.ttl = std.duration(
            regsub(beresp.http.Surrogate-Control, "^.*max-age=([0-9]+).*$", "\1s"), 0s);
        unset beresp.http.Surrogate-Control;
        set beresp.do_stream = true;
        return (deliver);
    }
}
