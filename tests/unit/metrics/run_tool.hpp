// Runs an outside checker (promtool, /usr/bin/python3) on text from a test.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <string_view>

#include "base/unique_fd.hpp"

namespace drover::test {

struct ToolResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
};

inline bool tool_exists(const char* path) { return ::access(path, X_OK) == 0; }

/// Runs `command` through /bin/sh with `input` on its stdin.
inline ToolResult run_tool(const std::string& command, std::string_view input)
{
    char path[] = "/tmp/drover-metrics-test-XXXXXX";
    ToolResult result;
    {
        UniqueFd fd(::mkstemp(path));
        if (!fd)
            return result;
        size_t done = 0;
        while (done < input.size()) {
            ssize_t n = ::write(fd.get(), input.data() + done, input.size() - done);
            if (n <= 0)
                return result;
            done += static_cast<size_t>(n);
        }
    }
    std::string full = command + " < " + path + " 2>&1";
    FILE* pipe = ::popen(full.c_str(), "r");
    if (pipe != nullptr) {
        char buf[4096];
        size_t n;
        while ((n = ::fread(buf, 1, sizeof buf, pipe)) > 0)
            result.output.append(buf, n);
        int status = ::pclose(pipe);
        result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    ::unlink(path);
    return result;
}

/// Runs a Python script (given as text) with `input` on its stdin.
inline ToolResult run_python(const std::string& script, std::string_view input)
{
    std::string quoted = "'";
    for (char c : script) {
        if (c == '\'')
            quoted += "'\\''";
        else
            quoted += c;
    }
    quoted += "'";
    return run_tool("/usr/bin/python3 -c " + quoted, input);
}

} // namespace drover::test
