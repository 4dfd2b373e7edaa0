// The WSGI environ: CGI variables from the request, completed with what the
// transport knows, and the wsgi.* keys.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "worker/forwarded.hpp"
#include "worker/python/bridge.hpp"
#include "worker/python/pyref.hpp"

namespace drover {

/// SCRIPT_NAME and PATH_INFO as the application sees them (raw bytes;
/// percent-decoded where derived from REQUEST_URI).
struct CgiPath {
    std::string script_name;
    std::string path_info;
};

/// Applies the frontend conventions and the mount point:
/// - no PATH_INFO: nginx's stock fastcgi_params send the whole path as
///   SCRIPT_NAME, so it becomes PATH_INFO (and SCRIPT_NAME "");
/// - neither: PATH_INFO is the percent-decoded path of REQUEST_URI;
/// - then, with SCRIPT_NAME still empty, a PATH_INFO at or under mount has
///   the mount moved into SCRIPT_NAME.
/// mount is normalised ("/app", or "" for none).
CgiPath resolve_cgi_path(const Request& request, std::string_view mount);

/// "/app/" -> "/app", "app" -> "/app", "/" -> "".
std::string normalize_mount(std::string_view script_name);

class EnvironBuilder {
public:
    /// Interns the keys every request uses. GIL held; throws
    /// std::runtime_error when Python cannot allocate them.
    explicit EnvironBuilder(std::string_view script_name);
    EnvironBuilder(const EnvironBuilder&) = delete;
    EnvironBuilder& operator=(const EnvironBuilder&) = delete;

    /// A fresh dict for one request; nullptr with a Python exception set on
    /// failure. forwarded: what a trusted proxy's headers said (its non-empty
    /// values replace what the request and the peer give). GIL held.
    PyRef build(const Request& request, const PeerInfo& peer, const ForwardedResult& forwarded, PyObject* input,
                PyObject* errors) const;

private:
    /// The interned key for a CGI name, or a new str for a name not seen at
    /// start-up.
    PyRef key(std::string_view name) const;
    bool set(PyObject* environ, std::string_view name, std::string_view value) const;
    bool set_protocol(PyObject* environ, const Request& request) const;

    std::string mount_;
    std::unordered_map<std::string_view, PyRef> cgi_keys_;  // views of string literals
    PyRef wsgi_version_key_, url_scheme_key_, input_key_, errors_key_, multithread_key_, multiprocess_key_,
        run_once_key_, input_terminated_key_, file_wrapper_key_;
    PyRef version_, http_, https_, http10_, http11_;
};

} // namespace drover
