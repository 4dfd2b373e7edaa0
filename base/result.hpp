// The result type at the syscall boundary: a value, or the failed call and
// its errno. g++ 12 has no std::expected.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace drover {

struct SysError {
    const char* op;  // the call that failed, e.g. "bind(127.0.0.1:80)"; static storage
    int err;

    /// "op() failed: strerror" — the form every log line about a syscall uses.
    std::string message() const { return std::string(op) + " failed: " + std::strerror(err); }

    static SysError from_errno(const char* op) { return SysError{op, errno}; }
};

template <typename T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(SysError error) : v_(error) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    T* operator->() { return &value(); }
    const SysError& error() const { return std::get<1>(v_); }

private:
    std::variant<T, SysError> v_;
};

template <>
class Result<void> {
public:
    Result() = default;
    Result(SysError error) : error_(error), ok_(false) {}
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const SysError& error() const { return error_; }

private:
    SysError error_{"", 0};
    bool ok_ = true;
};

} // namespace drover
