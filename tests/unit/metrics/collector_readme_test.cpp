// The collectable's metric families held against README.md's metric table
// (section "Metrics, health, status"), so that neither can drift: every
// family /metrics exports is a row, every row is exported, with the type and
// the label names the row gives.
#include "metrics/collector.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"
#include "ipc/scoreboard.hpp"

#ifndef DROVER_README
#error "the build passes DROVER_README, the path of README.md"
#endif

namespace drover {
namespace {

struct Row {
    std::vector<std::string> names;
    std::string type;  ///< "" when the row does not say (the process_* row)
    std::set<std::string> labels;
};

std::string trim(const std::string& s)
{
    size_t b = s.find_first_not_of(' ');
    size_t e = s.find_last_not_of(' ');
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

/// The `quoted` words of a table cell.
std::vector<std::string> code_words(const std::string& cell)
{
    std::vector<std::string> out;
    for (size_t open = cell.find('`'); open != std::string::npos; open = cell.find('`', open)) {
        size_t close = cell.find('`', open + 1);
        if (close == std::string::npos)
            break;
        out.push_back(cell.substr(open + 1, close - open - 1));
        open = close + 1;
    }
    return out;
}

/// The rows of the table whose header is "| metric | type | labels | meaning |".
std::vector<Row> readme_metric_table()
{
    std::ifstream in(DROVER_README);
    std::string line;
    std::vector<Row> rows;
    bool in_table = false;
    while (std::getline(in, line)) {
        if (!in_table) {
            in_table = line.starts_with("| metric | type | labels | meaning |");
            if (in_table)
                std::getline(in, line);  // the |---| line
            continue;
        }
        if (!line.starts_with("|"))
            break;
        std::vector<std::string> cells;
        std::istringstream fields(line.substr(1));
        std::string cell;
        while (std::getline(fields, cell, '|'))
            cells.push_back(trim(cell));
        if (cells.size() < 4)
            continue;
        Row row;
        row.names = code_words(cells[0]);
        row.type = cells[1];
        for (const std::string& label : code_words(cells[2]))
            row.labels.insert(label);
        rows.push_back(row);
    }
    return rows;
}

const char* type_name(prometheus::MetricType type)
{
    switch (type) {
    case prometheus::MetricType::Counter: return "counter";
    case prometheus::MetricType::Gauge: return "gauge";
    case prometheus::MetricType::Histogram: return "histogram";
    case prometheus::MetricType::Summary: return "summary";
    case prometheus::MetricType::Untyped: return "untyped";
    }
    return "?";
}

class FakeSource : public PoolStateSource {
public:
    PoolState pool_state() const override { return state; }
    PoolState state;
};

/// A pool in which every family has samples: live workers with a /proc
/// entry (this process), a TCP listener whose queue the kernel reports.
class CollectorReadmeTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        listener = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        ASSERT_EQ(::listen(listener.get(), 8), 0);

        sb.slot(0).set_state(WorkerState::idle);
        sb.slot(0).counters.record(Protocol::http, 200, 1000, 1, 1);
        sb.slot(1).begin_request(1, "http GET /");
        source.state.scoreboard = &sb;
        source.state.retired = &retired;
        source.state.python_version = "3.11.2";
        source.state.workers = {{::getpid(), 0, 1, 0}, {::getpid(), 1, 1, 0}};
        source.state.listeners = {{"http://127.0.0.1:8000", "http", listener.get(), false, 8}};
    }

    UniqueFd listener;
    Scoreboard sb{2};
    CounterTotals retired;
    FakeSource source;
};

TEST_F(CollectorReadmeTest, TheReadmeTableIsFound)
{
    std::vector<Row> rows = readme_metric_table();
    ASSERT_GT(rows.size(), 20u) << "no metric table in " << DROVER_README;
    EXPECT_EQ(rows.front().names, std::vector<std::string>{"drover_requests_total"});
}

TEST_F(CollectorReadmeTest, EveryExportedFamilyIsARowAndEveryRowIsExported)
{
    std::set<std::string> readme, exported;
    for (const Row& row : readme_metric_table())
        readme.insert(row.names.begin(), row.names.end());
    PoolCollector collector(source);
    for (const prometheus::MetricFamily& f : collector.Collect())
        EXPECT_TRUE(exported.insert(f.name).second) << "family twice: " << f.name;
    for (const std::string& name : exported)
        EXPECT_TRUE(readme.count(name)) << name << " is exported but not in README.md's metric table";
    for (const std::string& name : readme)
        EXPECT_TRUE(exported.count(name)) << name << " is in README.md's metric table but not exported";
}

TEST_F(CollectorReadmeTest, TypesAndLabelNamesAreTheReadmes)
{
    std::map<std::string, const Row*> by_name;
    std::vector<Row> rows = readme_metric_table();
    for (const Row& row : rows)
        for (const std::string& name : row.names)
            by_name[name] = &row;

    PoolCollector collector(source);
    for (const prometheus::MetricFamily& f : collector.Collect()) {
        auto it = by_name.find(f.name);
        if (it == by_name.end())
            continue;  // reported by the test above
        const Row& row = *it->second;
        std::string type = type_name(f.type);
        if (!row.type.empty()) {
            EXPECT_EQ(type, row.type) << f.name;
        }
        // Prometheus' naming rule, which the README's types follow.
        EXPECT_EQ(f.name.ends_with("_total"), type == "counter") << f.name << " is a " << type;
        EXPECT_FALSE(f.help.empty()) << f.name;
        ASSERT_FALSE(f.metric.empty()) << f.name << " has no sample in this fixture";
        for (const prometheus::ClientMetric& m : f.metric) {
            std::set<std::string> labels;
            for (const auto& label : m.label)
                labels.insert(label.name);
            EXPECT_EQ(labels, row.labels) << f.name;
        }
    }
}

} // namespace
} // namespace drover
