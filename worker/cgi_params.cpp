#include "worker/cgi_params.hpp"

#include <string_view>
#include <unordered_map>

namespace drover {

std::string merge_repeated_params(std::vector<Param>& params)
{
    // Keys are views into the params, which do not move until the compaction
    // below, after the last lookup.
    std::unordered_map<std::string_view, size_t> first;
    first.reserve(params.size());
    std::vector<bool> repeat(params.size(), false);
    bool any = false;
    for (size_t i = 0; i < params.size(); ++i) {
        auto [it, inserted] = first.emplace(params[i].first, i);
        if (inserted)
            continue;
        Param& kept = params[it->second];
        repeat[i] = any = true;
        if (kept.first == "CONTENT_LENGTH") {
            // nginx's $content_length is empty when the request has none: an
            // empty repeat says nothing, and an empty first value yields.
            if (params[i].second.empty())
                continue;
            if (!kept.second.empty() && kept.second != params[i].second)
                return "CONTENT_LENGTH given twice with different values";
        }
        kept.second.swap(params[i].second);
    }
    if (!any)
        return {};
    size_t out = 0;
    for (size_t i = 0; i < params.size(); ++i) {
        if (repeat[i])
            continue;
        if (out != i)  // a self-move would empty the strings
            params[out] = std::move(params[i]);
        ++out;
    }
    params.resize(out);
    return {};
}

} // namespace drover
