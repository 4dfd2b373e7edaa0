#include "worker/codec.hpp"

namespace drover {

void Output::copy(std::string_view bytes)
{
    if (bytes.empty())
        return;
    // Adjacent owned pieces merge, so framing stays one iovec.
    if (!pieces_.empty() && pieces_.back().owned && pieces_.back().offset + pieces_.back().length == owned_.size()) {
        pieces_.back().length += bytes.size();
    } else {
        pieces_.push_back(Piece{true, owned_.size(), nullptr, bytes.size()});
    }
    owned_.append(bytes);
    size_ += bytes.size();
}

void Output::borrow(std::string_view bytes)
{
    if (bytes.empty())
        return;
    pieces_.push_back(Piece{false, 0, bytes.data(), bytes.size()});
    size_ += bytes.size();
}

void Output::clear()
{
    owned_.clear();
    pieces_.clear();
    size_ = 0;
}

std::vector<struct iovec> Output::iovecs() const
{
    std::vector<struct iovec> out;
    out.reserve(pieces_.size());
    for (const Piece& p : pieces_) {
        const char* data = p.owned ? owned_.data() + p.offset : p.data;
        out.push_back(iovec{const_cast<char*>(data), p.length});
    }
    return out;
}

std::string Output::str() const
{
    std::string out;
    out.reserve(size_);
    for (const Piece& p : pieces_)
        out.append(p.owned ? owned_.data() + p.offset : p.data, p.length);
    return out;
}

} // namespace drover
