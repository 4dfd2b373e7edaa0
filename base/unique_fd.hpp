// Owning file descriptor: the one place in drover that calls close().
#pragma once

#include <unistd.h>

#include <utility>

namespace drover {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept
    {
        reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }

    int release() noexcept { return std::exchange(fd_, -1); }

    void reset(int fd = -1) noexcept
    {
        int old = std::exchange(fd_, fd);
        // close() is not retried on EINTR: on Linux the fd is gone either way.
        if (old >= 0)
            ::close(old);
    }

private:
    int fd_ = -1;
};

} // namespace drover
