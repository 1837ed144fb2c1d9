// Tests of 08_webclient with a real browser: the site the lab ships (08_webclient/www: index.html and the six
// pictures of lab 09's canvas) loaded by headless Chromium from the server in every concurrency mode, as a
// student opens http://localhost:8085/ after `./server -f www`.
// Slides: the lab handout "Concurrent HTTP server", sections "Overview" and "Command-line Interface (CLI)".
// Suites: Lab08/Browser.*/MODE (every concurrency mode).
//
// The page's own script writes "N of 6 pictures arrived" into its title once the page and its pictures have
// loaded, counting a picture only when it decoded (complete, with a width); Chromium's --dump-dom shows the
// title. The server's -v log must also list a 200 for the page and for every picture.
//
// Needs Debian's `chromium` (`mk/deps.sh browser` installs it; CI does): without it every test is skipped,
// saying so.
#include "tests/harness.hpp"
#include "tests/http_helpers.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>

using namespace harness;
namespace fs = std::filesystem;

namespace {

const std::string kServer = program("08_webclient", "server");
const fs::path kSite = fs::path(LABKIT_SOURCE_ROOT) / "08_webclient" / "www";
constexpr int kPictures = 6;

// The browser's path, or "" when none is installed.
std::string find_chromium() {
    const char* path = std::getenv("PATH");
    std::stringstream folders(path != nullptr ? path : "/usr/bin");
    std::string folder;
    while (std::getline(folders, folder, ':')) {
        for (const char* name : {"chromium", "chromium-browser"}) {
            const fs::path candidate = fs::path(folder) / name;
            if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        }
    }
    return "";
}

// A profile folder of its own for each run, removed afterwards.
struct Profile : http_helpers::SiteFolder {
    Profile() : SiteFolder("labkit08-chromium") {}
};

class Browser : public testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Lab08, Browser,
                         testing::Values("iterative", "thread", "thread-pool", "process", "process-pool", "async",
                                         "uring"),
                         [](const testing::TestParamInfo<std::string>& info) {
                             std::string name = info.param;
                             for (char& c : name)
                                 if (c == '-') c = '_';
                             return name;
                         });

}  // namespace

TEST_P(Browser, LoadsTheShippedPageWithEveryPicture) {
    const std::string chromium = find_chromium();
    if (chromium.empty())
        GTEST_SKIP() << "chromium is not installed (mk/deps.sh browser installs it): "
                        "the page was not loaded in a browser";
    ASSERT_TRUE(fs::exists(kSite / "index.html")) << kSite;
    if (GetParam() == "uring" && !http_helpers::uring_refused().empty()) GTEST_SKIP() << http_helpers::uring_refused();

    std::vector<std::string> argv{kServer, "-p", "0", "-f", kSite.string(), "-v", "-c", GetParam()};
    // A browser opens several connections to a server (up to 6) and keeps them alive: the iterative server
    // serves one at a time and the process pool 4, each until it goes quiet, so a picture asked for on another
    // connection waits for the idle timeout (10 s by default); a short one lets it in sooner.
    if (GetParam() == "iterative" || GetParam() == "process-pool") argv.insert(argv.end(), {"--idle-timeout", "1"});
    Process server(argv, {.name = "server " + GetParam()});
    const uint16_t port = server.wait_for_listening();
    ASSERT_NE(port, 0);

    const Profile profile;
    const Result browser =
        run({chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--user-data-dir=" + profile.base.string(), "--virtual-time-budget=20000", "--dump-dom",
             "http://localhost:" + std::to_string(port) + "/"},
            "", 90s, {.name = "chromium"});
    EXPECT_EQ(browser.status, 0) << browser.err;
    const std::string all = std::to_string(kPictures) + " of " + std::to_string(kPictures) + " pictures arrived";
    EXPECT_NE(browser.out.find("<title>" + all + "</title>"), std::string::npos)
        << "the page did not see every picture arrive; its DOM:\n"
        << browser.out;

    EXPECT_TRUE(server.wait_for_text("GET / -> 200"));
    for (int i = 1; i <= kPictures; ++i) {
        const std::string picture = "/img/" + std::to_string(i) + ".png";
        EXPECT_TRUE(server.wait_for_text("GET " + picture + " -> 200")) << picture;
    }
    server.signal_group(SIGINT);
    EXPECT_EQ(server.wait_exit(15s), 0);
}
