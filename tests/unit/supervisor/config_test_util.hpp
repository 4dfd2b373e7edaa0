// Helpers of the config tests: a scratch directory and the message of the
// ConfigError a call throws.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>

#include "supervisor/config.hpp"

namespace drover {

/// A fresh directory under /tmp, removed with everything in it.
class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/tmp/drover-config-test-XXXXXX";
        const char* made = ::mkdtemp(tmpl);
        if (!made)
            throw std::runtime_error("mkdtemp failed");
        path_ = made;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string str() const { return path_.string(); }

    std::string write(const std::string& name, const std::string& text) const
    {
        std::filesystem::path p = path_ / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    std::string mkdir(const std::string& name) const
    {
        std::filesystem::create_directories(path_ / name);
        return (path_ / name).string();
    }

private:
    std::filesystem::path path_;
};

/// The ConfigError message fn throws, or a marker that it threw none.
inline std::string error_of(const std::function<void()>& fn)
{
    try {
        fn();
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "<no ConfigError>";
}

} // namespace drover
