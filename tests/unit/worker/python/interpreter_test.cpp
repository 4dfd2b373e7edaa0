// The WSGI bridge: loading the application, and virtualenvs.
#include "tests/unit/worker/python/bridge_fixture.hpp"

namespace drover {
namespace {

// ---- loading the application ----------------------------------------------

TEST_F(BridgeTest, MissingModuleThrowsAndLogsTheSearch)
{
    AppSettings s = settings();
    s.callable = "drover_no_such_module:app";
    StderrCapture log;
    std::string what;
    try {
        make_wsgi_bridge(s);
    } catch (const std::runtime_error& e) {
        what = e.what();
    }
    std::string text = log.finish();
    EXPECT_TRUE(contains(what, "drover_no_such_module")) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
    EXPECT_TRUE(contains(text, "drover_no_such_module")) << text;
    EXPECT_TRUE(contains(text, "sys.path")) << text;
    EXPECT_TRUE(contains(text, app_dir_)) << text;
    EXPECT_TRUE(contains(text, "ModuleNotFoundError")) << text;
}

TEST_F(BridgeTest, MissingOrUncallableAttributeThrows)
{
    AppSettings s = settings();
    s.callable = "bridge_app:no_such_attr";
    StderrCapture log;
    EXPECT_THROW(make_wsgi_bridge(s), std::runtime_error);
    s.callable = "bridge_app:NOT_CALLABLE";
    try {
        make_wsgi_bridge(s);
        ADD_FAILURE() << "an int is not a WSGI application";
    } catch (const std::runtime_error& e) {
        EXPECT_TRUE(contains(e.what(), "not callable")) << e.what();
    }
    std::string text = log.finish();
    EXPECT_TRUE(contains(text, "no_such_attr")) << text;
}

TEST_F(BridgeTest, DefaultCallableNameAndDottedAttributes)
{
    AppSettings s = settings();
    s.callable = "bridge_app";  // no colon: "application"
    std::unique_ptr<WsgiBridge> plain = make_wsgi_bridge(s);
    Exchange ex;
    ex.run(*plain, get("/one"));
    EXPECT_EQ(ex.writer.body, "hello");

    s.callable = "bridge_app:ROUTES.get";  // a bound method reached through attributes
    EXPECT_NO_THROW(make_wsgi_bridge(s));
}

// ---- virtualenv -----------------------------------------------------------

int run_command(const std::vector<std::string>& argv, const std::string& log_path)
{
    pid_t pid = ::fork();
    if (pid == 0) {
        int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            ::dup2(fd, STDOUT_FILENO);
            ::dup2(fd, STDERR_FILENO);
        }
        std::vector<char*> args;
        for (const std::string& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const char* const kVenvApp = R"PY(
import sys
import venvonly_pkg


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s|%s|%s" % (venvonly_pkg.VALUE, sys.prefix, sys.executable)).encode()]
)PY";

// Python initialises once per process, and this one already runs without a
// virtualenv; the case runs in a fresh process (this binary, re-executed with
// a filter that selects VirtualenvChild).
TEST(Virtualenv, SitePackagesOfTheVenvAreImportable)
{
    std::string dir = make_temp_dir();
    std::string venv = dir + "/venv";
    ASSERT_EQ(run_command({"/usr/bin/python3", "-m", "venv", "--without-pip", venv}, dir + "/venv.log"), 0)
        << read_file(dir + "/venv.log");
    std::string site = venv + "/lib/python" + std::to_string(PY_MAJOR_VERSION) + "." +
                       std::to_string(PY_MINOR_VERSION) + "/site-packages";
    ASSERT_EQ(::mkdir((site + "/venvonly_pkg").c_str(), 0755), 0) << site;
    write_file(site + "/venvonly_pkg/__init__.py", "VALUE = 'from the venv'\n");
    ASSERT_EQ(::mkdir((dir + "/app").c_str(), 0755), 0);
    write_file(dir + "/app/venv_app.py", kVenvApp);

    ::setenv("DROVER_TEST_VENV", venv.c_str(), 1);
    ::setenv("DROVER_TEST_VENV_APP", (dir + "/app").c_str(), 1);
    int rc = run_command({"/proc/self/exe", "--gtest_filter=VirtualenvChild.*"}, dir + "/child.log");
    ::unsetenv("DROVER_TEST_VENV");
    ::unsetenv("DROVER_TEST_VENV_APP");
    std::string child_log = read_file(dir + "/child.log");
    EXPECT_EQ(rc, 0) << child_log;
    EXPECT_TRUE(contains(child_log, "[       OK ] VirtualenvChild.ServesFromTheVenv")) << child_log;
}

TEST(VirtualenvChild, ServesFromTheVenv)
{
    const char* venv = ::getenv("DROVER_TEST_VENV");
    const char* app = ::getenv("DROVER_TEST_VENV_APP");
    if (!venv || !app)
        GTEST_SKIP() << "runs in the process Virtualenv.SitePackagesOfTheVenvAreImportable starts";
    ASSERT_FALSE(Py_IsInitialized());
    AppSettings s;
    s.callable = "venv_app";
    s.virtualenv = venv;
    s.chdir = app;
    std::unique_ptr<WsgiBridge> bridge = make_wsgi_bridge(s);
    Exchange ex;
    ex.run(*bridge, get("/"));
    char real_venv[PATH_MAX];
    ASSERT_NE(::realpath(venv, real_venv), nullptr);
    EXPECT_EQ(ex.writer.body, std::string("from the venv|") + real_venv + "|" + real_venv + "/bin/python3");
}

} // namespace
} // namespace drover
