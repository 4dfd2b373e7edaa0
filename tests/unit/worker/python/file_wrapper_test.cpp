// The WSGI bridge: wsgi.file_wrapper and sendfile.
#include "tests/unit/worker/python/bridge_fixture.hpp"

namespace drover {
namespace {

// ---- wsgi.file_wrapper ----------------------------------------------------

class FileWrapperTest : public BridgeTest {
protected:
    void SetUp() override
    {
        for (int i = 0; content_.size() < 20000; ++i)
            content_ += std::to_string(i) + ",";
        content_.resize(20000);
        path_ = app_dir_ + "/payload.bin";
        write_file(path_, content_);
    }
    std::string content_;
    std::string path_;
};

TEST_F(FileWrapperTest, RegularFileGoesOutWithSendfile)
{
    Exchange ex;
    ex.writer.sendfile_allowed = true;
    ex.run(bridge(), get("/file", path_));
    ASSERT_EQ(ex.writer.sendfiles.size(), 1u);
    EXPECT_EQ(ex.writer.sendfiles[0].offset, 3) << "the offset is the Python position, not the fd's";
    EXPECT_EQ(ex.writer.sendfiles[0].count, 19997);
    EXPECT_EQ(ex.writer.content_length, 19997);
    EXPECT_TRUE(ex.writer.body == content_.substr(3));
    EXPECT_EQ(ex.writer.writes, 0);
    EXPECT_EQ((std::vector<std::string>{"start", "sendfile", "finish"}), ex.writer.events);
    EXPECT_EQ(ex.outcome.response_bytes, 19997u);
    EXPECT_EQ(py("last_file.closed"), "True");
    EXPECT_FALSE(ex.writer.gil_held);
}

TEST_F(FileWrapperTest, SendfileIsLimitedByContentLength)
{
    Request r = get("/file", path_);
    r.params.emplace_back("HTTP_X_LENGTH", "100");
    Exchange ex;
    ex.writer.sendfile_allowed = true;
    ex.run(bridge(), r);
    ASSERT_EQ(ex.writer.sendfiles.size(), 1u);
    EXPECT_EQ(ex.writer.sendfiles[0].count, 100);
    EXPECT_EQ(ex.writer.content_length, 100);
    EXPECT_EQ(ex.writer.body, content_.substr(3, 100));
    EXPECT_FALSE(ex.outcome.close_connection);
}

TEST_F(FileWrapperTest, WithoutSendfileTheFileIsIterated)
{
    Exchange ex;
    ex.run(bridge(), get("/file", path_));
    EXPECT_TRUE(ex.writer.sendfiles.empty());
    EXPECT_EQ(ex.writer.writes, 5);  // 19997 bytes in 4096-byte blocks
    EXPECT_TRUE(ex.writer.body == content_.substr(3));
    EXPECT_EQ(ex.writer.content_length, 19997) << "the file size is still known";
    EXPECT_EQ(py("last_file.closed"), "True");
}

TEST_F(FileWrapperTest, IteratedFileIsLimitedByContentLengthToo)
{
    Request r = get("/file", path_);
    r.params.emplace_back("HTTP_X_LENGTH", "100");
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), r);
    std::string text = log.finish();
    EXPECT_TRUE(ex.writer.sendfiles.empty());
    EXPECT_EQ(ex.writer.content_length, 100);
    EXPECT_EQ(ex.writer.body, content_.substr(3, 100));
    EXPECT_FALSE(ex.outcome.close_connection) << "a part of a file is a complete response";
    EXPECT_EQ(ex.writer.count("finish"), 1);
    EXPECT_FALSE(contains(text, "Content-Length")) << text;
}

TEST_F(FileWrapperTest, BytesIOFallsBackToIteration)
{
    Exchange ex;
    ex.writer.sendfile_allowed = true;
    ex.run(bridge(), get("/file", "bytesio"));
    EXPECT_TRUE(ex.writer.sendfiles.empty());
    EXPECT_EQ(ex.writer.writes, 3);
    EXPECT_EQ(ex.writer.body.size(), 10000u);
    EXPECT_EQ(ex.writer.body.substr(0, 12), "012345678901");
    EXPECT_EQ(ex.writer.content_length, -1);
    EXPECT_EQ(py("last_file.closed"), "True");
}

} // namespace
} // namespace drover
