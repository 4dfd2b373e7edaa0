// The HTTP/1.1 codec: requests parsed by HttpRequestParser (llhttp plus the
// RFC 9112 rules it leaves out), responses framed by HttpResponseFramer. The
// two meet in HttpExchange, what a response must know of its request (the
// version, HEAD, whether the connection may stay open).
#include "worker/codec.hpp"
#include "worker/http_request_parser.hpp"
#include "worker/http_response.hpp"

namespace drover {

namespace {

class HttpCodec final : public Codec {
public:
    explicit HttpCodec(const CodecLimits& limits) : parser_(limits) {}

    Protocol protocol() const override { return Protocol::http; }
    ParseResult feed(std::string_view data, RequestSink& sink) override { return parser_.feed(data, sink); }
    void resume() override { parser_.resume(); }
    void refuse_keep_alive() override { parser_.exchange().keep_alive = false; }

    void write_head(const ResponseHead& head, Output& out) override
    {
        framer_.write_head(head, parser_.exchange(), out);
    }
    void write_body(std::string_view data, Output& out) override { framer_.write_body(data, out); }
    void write_end(Output& out) override { framer_.write_end(out); }
    bool keep_alive() const override { return parser_.exchange().keep_alive; }
    bool raw_body() const override { return framer_.raw_body(); }
    bool answers_head_timeout() const override { return true; }
    bool can_send_files() const override { return true; }
    void write_error(int status, Output& out) override { framer_.write_error(status, parser_.exchange(), out); }

private:
    HttpRequestParser parser_;
    HttpResponseFramer framer_;
};

} // namespace

std::unique_ptr<Codec> make_http_codec(const CodecLimits& limits) { return std::make_unique<HttpCodec>(limits); }

} // namespace drover
