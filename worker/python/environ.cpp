// The environ is built fresh for every request, but from keys interned once:
// most requests carry the same twenty names, and a dict lookup on an
// interned key compares pointers.
#include "worker/python/environ.hpp"

#include "worker/percent_decode.hpp"

#include <stdexcept>

#include "base/log.hpp"
#include "worker/python/file_wrapper.hpp"

namespace drover {

namespace {

// Names most requests carry, from the HTTP codec and nginx/Apache
// fastcgi/scgi params. Others still work; they just cost a new str each time.
constexpr std::string_view kCommonNames[] = {
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
    "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_ADDR", "SERVER_SOFTWARE", "REMOTE_ADDR",
    "REMOTE_PORT", "REMOTE_USER", "AUTH_TYPE", "REQUEST_URI", "REQUEST_SCHEME", "DOCUMENT_URI",
    "DOCUMENT_ROOT", "GATEWAY_INTERFACE", "HTTPS", "PATH_TRANSLATED", "SCRIPT_FILENAME", "REDIRECT_STATUS",
    "HTTP_HOST", "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING", "HTTP_ACCEPT_LANGUAGE",
    "HTTP_CONNECTION", "HTTP_COOKIE", "HTTP_REFERER", "HTTP_ORIGIN", "HTTP_AUTHORIZATION",
    "HTTP_CACHE_CONTROL", "HTTP_PRAGMA", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT", "HTTP_FORWARDED", "HTTP_X_REAL_IP", "HTTP_X_REQUEST_ID",
    "HTTP_X_REQUESTED_WITH", "HTTP_UPGRADE_INSECURE_REQUESTS", "HTTP_DNT", "HTTP_SEC_FETCH_SITE",
    "HTTP_SEC_FETCH_MODE", "HTTP_SEC_FETCH_DEST", "HTTP_SEC_FETCH_USER", "HTTP_TE", "HTTP_EXPECT",
};

PyRef intern(const char* text)
{
    PyRef s = PyRef::steal(PyUnicode_InternFromString(text));
    if (!s) {
        PyErr_Clear();
        throw std::runtime_error(cat("cannot allocate the environ key ", text));
    }
    return s;
}

PyRef latin1(std::string_view bytes)
{
    return PyRef::steal(PyUnicode_DecodeLatin1(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), nullptr));
}


// The path of a request target: origin-form "/p?q", or absolute-form
// "http://host/p?q" (a client talking to us as a proxy).
std::string_view target_path(std::string_view uri)
{
    if (size_t scheme = uri.find("://"); scheme != std::string_view::npos && uri.find('/') > scheme) {
        size_t slash = uri.find('/', scheme + 3);
        uri = slash == std::string_view::npos ? std::string_view("/") : uri.substr(slash);
    }
    return uri.substr(0, uri.find_first_of("?#"));
}

std::string_view target_query(std::string_view uri)
{
    size_t q = uri.find('?');
    if (q == std::string_view::npos)
        return {};
    uri.remove_prefix(q + 1);
    return uri.substr(0, uri.find('#'));
}

// "example.org:8080" -> "example.org", "[::1]:80" -> "[::1]".
std::string_view host_name(std::string_view host)
{
    if (!host.empty() && host.front() == '[')
        return host.substr(0, host.find(']') + 1);
    return host.substr(0, host.find(':'));
}

} // namespace

std::string normalize_mount(std::string_view script_name)
{
    while (!script_name.empty() && script_name.back() == '/')
        script_name.remove_suffix(1);
    if (script_name.empty())
        return {};
    std::string mount;
    if (script_name.front() != '/')
        mount.push_back('/');
    mount.append(script_name);
    return mount;
}

CgiPath resolve_cgi_path(const Request& request, std::string_view mount)
{
    CgiPath path;
    bool has_script_name = request.has_param("SCRIPT_NAME");
    if (request.has_param("PATH_INFO")) {
        path.script_name = request.param("SCRIPT_NAME");
        path.path_info = request.param("PATH_INFO");
    } else if (has_script_name) {
        path.path_info = request.param("SCRIPT_NAME");
    } else if (request.has_param("REQUEST_URI")) {
        path.path_info = percent_decode(target_path(request.param("REQUEST_URI")));
    }
    if (!mount.empty() && path.script_name.empty() && path.path_info.starts_with(mount) &&
        (path.path_info.size() == mount.size() || path.path_info[mount.size()] == '/')) {
        path.script_name.assign(mount);
        path.path_info.erase(0, mount.size());
    }
    return path;
}

EnvironBuilder::EnvironBuilder(std::string_view script_name) : mount_(normalize_mount(script_name))
{
    for (std::string_view name : kCommonNames)
        cgi_keys_.emplace(name, intern(std::string(name).c_str()));
    wsgi_version_key_ = intern("wsgi.version");
    url_scheme_key_ = intern("wsgi.url_scheme");
    input_key_ = intern("wsgi.input");
    errors_key_ = intern("wsgi.errors");
    multithread_key_ = intern("wsgi.multithread");
    multiprocess_key_ = intern("wsgi.multiprocess");
    run_once_key_ = intern("wsgi.run_once");
    input_terminated_key_ = intern("wsgi.input_terminated");
    file_wrapper_key_ = intern("wsgi.file_wrapper");
    http_ = intern("http");
    https_ = intern("https");
    http10_ = intern("HTTP/1.0");
    http11_ = intern("HTTP/1.1");
    version_ = PyRef::steal(Py_BuildValue("(ii)", 1, 0));
    if (!version_ || !file_wrapper_type()) {
        PyErr_Clear();
        throw std::runtime_error("cannot allocate the wsgi.* environ values");
    }
}

PyRef EnvironBuilder::key(std::string_view name) const
{
    if (auto it = cgi_keys_.find(name); it != cgi_keys_.end())
        return PyRef::borrow(it->second.get());
    return latin1(name);
}

bool EnvironBuilder::set_protocol(PyObject* environ, const Request& request) const
{
    if (request.http_major == 1 && (request.http_minor == 1 || request.http_minor == 0))
        return PyDict_SetItem(environ, key("SERVER_PROTOCOL").get(),
                              (request.http_minor == 1 ? http11_ : http10_).get()) == 0;
    return set(environ, "SERVER_PROTOCOL", cat("HTTP/", request.http_major, ".", request.http_minor));
}

bool EnvironBuilder::set(PyObject* environ, std::string_view name, std::string_view value) const
{
    PyRef k = key(name);
    PyRef v = latin1(value);
    return k && v && PyDict_SetItem(environ, k.get(), v.get()) == 0;
}

namespace {

/// What build() needs to know of the params besides copying them, gathered
/// in the one pass that copies them (each Request::param() is a scan).
struct Seen {
    bool request_method = false;
    bool query_string = false;
    bool server_name = false;
    bool server_port = false;
    bool server_protocol = false;
    bool remote_addr = false;
    bool remote_port = false;

    void note(std::string_view name, std::string_view value)
    {
        if (name.empty() || name[0] < 'Q' || name[0] > 'S')
            return;  // all of these start with Q, R or S
        if (name == "REQUEST_METHOD")
            request_method = true;
        else if (name == "QUERY_STRING")
            query_string = true;
        else if (value.empty())
            return;
        else if (name == "SERVER_NAME")
            server_name = true;
        else if (name == "SERVER_PORT")
            server_port = true;
        else if (name == "SERVER_PROTOCOL")
            server_protocol = true;
        else if (name == "REMOTE_ADDR")
            remote_addr = true;
        else if (name == "REMOTE_PORT")
            remote_port = true;
    }
};

} // namespace

PyRef EnvironBuilder::build(const Request& request, const PeerInfo& peer, const ForwardedResult& forwarded,
                            PyObject* input, PyObject* errors) const
{
    // Sized for the params and the keys added below: a dict that grows from
    // 8 entries would be rebuilt twice per request.
    PyRef environ = PyRef::steal(_PyDict_NewPresized(static_cast<Py_ssize_t>(request.params.size()) + 20));
    if (!environ)
        return {};
    PyObject* env = environ.get();

    Seen seen;
    for (const auto& [name, value] : request.params) {
        seen.note(name, value);
        if (name == "PATH_INFO" || name == "SCRIPT_NAME")
            continue;  // resolved below
        // nginx sends both, empty, on every request without a body; CGI
        // says "no body" by leaving them out.
        if (value.empty() && (name == "CONTENT_TYPE" || name == "CONTENT_LENGTH"))
            continue;
        PyRef k = key(name);
        PyRef v = latin1(value);
        if (!k || !v)
            return {};
        if (!name.starts_with("HTTP_")) {
            if (PyDict_SetItem(env, k.get(), v.get()) < 0)
                return {};
            continue;
        }
        // A header sent twice is one field with both values (RFC 9110 5.3),
        // so a repeated HTTP_* param is joined, not overwritten.
        PyObject* existing = PyDict_SetDefault(env, k.get(), v.get());
        if (!existing)
            return {};
        if (existing != v.get()) {
            std::string joined(reinterpret_cast<const char*>(PyUnicode_1BYTE_DATA(existing)),
                               static_cast<size_t>(PyUnicode_GET_LENGTH(existing)));
            joined.append(name == "HTTP_COOKIE" ? "; " : ", ");
            joined.append(value);
            PyRef combined = latin1(joined);
            if (!combined || PyDict_SetItem(env, k.get(), combined.get()) < 0)
                return {};
        }
    }

    CgiPath path = resolve_cgi_path(request, mount_);
    if (!set(env, "SCRIPT_NAME", path.script_name) || !set(env, "PATH_INFO", path.path_info))
        return {};

    bool https = forwarded.url_scheme.empty() ? frontend_says_https(request) : forwarded.url_scheme == "https";
    if (!seen.request_method && !set(env, "REQUEST_METHOD", "GET"))
        return {};
    if (!seen.query_string && !set(env, "QUERY_STRING", target_query(request.param("REQUEST_URI"))))
        return {};
    if (!seen.server_name) {
        std::string_view name = peer.server_name;
        if (name.empty())
            name = host_name(request.param("HTTP_HOST"));
        if (name.empty())
            name = "localhost";
        if (!set(env, "SERVER_NAME", name))
            return {};
    }
    if (!seen.server_port) {
        std::string_view port = peer.server_port.empty() ? (https ? "443" : "80") : std::string_view(peer.server_port);
        if (!set(env, "SERVER_PORT", port))
            return {};
    }
    if (!seen.server_protocol && !set_protocol(env, request))
        return {};
    if (!seen.remote_addr && !set(env, "REMOTE_ADDR", peer.remote_addr))
        return {};
    if (!seen.remote_port && !set(env, "REMOTE_PORT", peer.remote_port))
        return {};
    // After the defaults: a trusted proxy's word replaces them. The original
    // headers stay in the environ as they came (HTTP_X_FORWARDED_FOR ...).
    for (auto [name, value] : {std::pair{"REMOTE_ADDR", &forwarded.remote_addr},
                               std::pair{"REMOTE_PORT", &forwarded.remote_port},
                               std::pair{"HTTP_HOST", &forwarded.http_host},
                               std::pair{"SERVER_NAME", &forwarded.server_name},
                               std::pair{"SERVER_PORT", &forwarded.server_port}})
        if (!value->empty() && !set(env, name, *value))
            return {};

    // wsgi.input_terminated is always true: the BodySource returns 0 at the
    // end of the body whatever the framing, so reading to EOF is safe.
    struct Item {
        PyObject* key;
        PyObject* value;
    } items[] = {
        {wsgi_version_key_.get(), version_.get()},
        {url_scheme_key_.get(), https ? https_.get() : http_.get()},
        {input_key_.get(), input},
        {errors_key_.get(), errors},
        {multithread_key_.get(), Py_False},
        {multiprocess_key_.get(), Py_True},
        {run_once_key_.get(), Py_False},
        {input_terminated_key_.get(), Py_True},
        {file_wrapper_key_.get(), file_wrapper_type()},
    };
    for (const Item& item : items)
        if (PyDict_SetItem(env, item.key, item.value) < 0)
            return {};
    return environ;
}

} // namespace drover
