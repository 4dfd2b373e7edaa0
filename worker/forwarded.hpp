// Whom to believe about a request's client. Behind a proxy the TCP peer is
// the proxy; the client's address, the scheme and the host it asked for come
// in headers: RFC 7239 `Forwarded`, or X-Forwarded-For, -Proto, -Ssl, -Host
// and -Port. Anyone can send those headers, so they are believed only from a
// trusted peer (`forwarded_allow_ips`), and only as far back as the chain of
// trusted proxies goes. Pure: a Request and an address in; the environ's
// new values, or a refusal, out.
//
// The rules (README "Behind a proxy" says them to users):
// - The peer is who REMOTE_ADDR names without forwarding: the web server's
//   REMOTE_ADDR param over FastCGI and SCGI (the web server is itself the
//   proxy there: the address it saw is the one to test), else the socket's
//   peer. A unix socket's peer has no address: it is a local process, trusted
//   unless forwarded_allow_ips is empty (as gunicorn trusts it).
// - From an untrusted peer nothing is read and nothing changes.
// - Forwarded: its elements are walked from the right (the nearest proxy's)
//   past every one whose `for` is a trusted address; the first other one
//   (an untrusted address, "unknown", "_hidden", no `for`), or the left-most
//   when all are trusted, is the client's hop: its for, proto and host count.
// - X-Forwarded-For: the same walk over its items: the right-most untrusted
//   address, or the left-most when all are trusted. An item that is no
//   address ends the walk and names no address.
// - X-Forwarded-Proto, -Ssl, -Host, -Port are read at the same hop: as many
//   items from the right as the client's item is in X-Forwarded-For (one
//   value, the usual case, is that value; a shorter list gives its
//   left-most).
// - Believed values set REMOTE_ADDR (REMOTE_PORT when the hop names a port),
//   wsgi.url_scheme, HTTP_HOST, SERVER_NAME and SERVER_PORT. A port is the
//   one named, else the scheme's default, and HTTP_HOST carries it only when
//   it is not the default.
// - From a trusted peer, headers that cannot be read (a malformed Forwarded,
//   a proto that is neither http nor https, a host that is no host) or that
//   disagree (Forwarded against X-Forwarded-*, X-Forwarded-Proto against
//   -Ssl, a host's port against X-Forwarded-Port) are refused: 400, and the
//   application never sees them.
#pragma once

#include <string>
#include <string_view>

#include "base/cidr.hpp"
#include "worker/request.hpp"

namespace drover {

struct ForwardedResult {
    /// The peer is a trusted proxy and sent forwarding headers: they were
    /// read. (Without them nothing is looked at, not even the peer.)
    bool trusted = false;
    /// Non-empty: answer 400 without calling the application; the reason
    /// for the log.
    std::string error;
    /// New environ values; "" leaves a key as it would be without forwarding.
    std::string remote_addr;
    std::string remote_port;
    std::string url_scheme;  ///< "http" or "https"
    std::string http_host;
    std::string server_name;
    std::string server_port;
    /// The client's address for the access log: remote_addr when believed,
    /// else the peer's ("" for a unix socket's peer).
    std::string client;
};

/// socket_peer: the connection's peer address ("" on a unix socket).
ForwardedResult resolve_forwarded(const Request& request, std::string_view socket_peer, const CidrSet& trusted);

/// A web server's own word that the request came over TLS (FastCGI, SCGI):
/// HTTPS=on or 1, or REQUEST_SCHEME=https.
bool frontend_says_https(const Request& request);

} // namespace drover
