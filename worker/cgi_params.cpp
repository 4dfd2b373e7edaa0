#include "worker/cgi_params.hpp"

#include <algorithm>
#include <cstdint>

namespace drover {

namespace {

/// Indices of params with equal names end up adjacent, each run in the order
/// the params came (stable); sorting indices leaves the params in place.
template <typename Index>
void sort_by_name(const std::vector<Param>& params, Index* order)
{
    for (size_t i = 0; i < params.size(); ++i)
        order[i] = static_cast<Index>(i);
    std::stable_sort(order, order + params.size(),
                     [&params](Index a, Index b) { return params[a].first < params[b].first; });
}

/// Folds the run order[begin, end) of one name into its first param.
/// Returns an error text, or "".
template <typename Index>
std::string fold_run(std::vector<Param>& params, const Index* order, size_t begin, size_t end,
                     std::vector<bool>& repeat)
{
    Param& kept = params[order[begin]];
    for (size_t k = begin + 1; k < end; ++k) {
        Param& again = params[order[k]];
        repeat[order[k]] = true;
        if (kept.first == "CONTENT_LENGTH") {
            // nginx's $content_length is empty when the request has none: an
            // empty repeat says nothing, and an empty first value yields.
            if (again.second.empty())
                continue;
            if (!kept.second.empty() && kept.second != again.second)
                return "CONTENT_LENGTH given twice with different values";
        }
        kept.second.swap(again.second);
    }
    return {};
}

template <typename Index>
std::string merge(std::vector<Param>& params, Index* order)
{
    sort_by_name(params, order);
    std::vector<bool> repeat;
    for (size_t begin = 0; begin < params.size();) {
        size_t end = begin + 1;
        while (end < params.size() && params[order[end]].first == params[order[begin]].first)
            ++end;
        if (end - begin > 1) {
            if (repeat.empty())
                repeat.assign(params.size(), false);
            if (std::string error = fold_run(params, order, begin, end, repeat); !error.empty())
                return error;
        }
        begin = end;
    }
    if (repeat.empty())
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

} // namespace

std::string merge_repeated_params(std::vector<Param>& params)
{
    // n log n over an index array, on the stack for the usual few dozen
    // params: a request with no repeats costs no allocation here.
    constexpr size_t kOnStack = 256;
    if (params.size() <= kOnStack) {
        uint8_t order[kOnStack];
        return merge(params, order);
    }
    std::vector<uint32_t> order(params.size());
    return merge(params, order.data());
}

} // namespace drover
