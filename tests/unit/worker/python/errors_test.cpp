// The WSGI bridge: wsgi.errors and the logging of application errors.
#include "tests/unit/worker/python/bridge_fixture.hpp"

namespace drover {
namespace {

// ---- wsgi.errors ----------------------------------------------------------

TEST_F(BridgeTest, ErrorsStreamLogsWholeLines)
{
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), get("/errors"));
    std::string text = log.finish();
    EXPECT_EQ(ex.writer.body, "logged");
    EXPECT_EQ(py("last_error"), "TypeError") << "write(bytes) must raise";
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        size_t at = line.find("app: ");
        if (at != std::string::npos)
            lines.push_back(line.substr(at + 5));
    }
    EXPECT_EQ((std::vector<std::string>{"first line", "second line", "partial", "from writelines", "tail end"}),
              lines)
        << text;
    EXPECT_TRUE(contains(text, "error: ")) << "app output is logged at level error: " << text;
}

} // namespace
} // namespace drover
