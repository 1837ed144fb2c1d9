// tests/http_helpers.hpp: the HTTP side of the tests of 08_webclient's file server (test_08_webclient.cpp)
// and of its fault suite (test_faults_http.cpp): the folder a test program serves, and a minimal HTTP/1.1
// client over harness::Connection (one GET, a response read by its Content-Length).
// Slides: the lab handout "Concurrent HTTP server", section "Command-line Interface (CLI)" (-f FOLDER).
//
// Each test file fills its own site (different files for different checks):
//
//   struct Site : http_helpers::SiteFolder {
//       Site() : SiteFolder("labkit08") { write(base / "index.html", "home\n"); }
//   };
//   Site& site() { static Site instance; return instance; }  // made once, on first use
#pragma once

#include "tests/harness.hpp"
#include "tests/uring_helpers.hpp"

#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <linux/io_uring.h>
#include <map>
#include <string>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace http_helpers {

using namespace std::chrono_literals;
using harness::Connection;
using harness::Duration;

using uring_helpers::uring_refused;  // (tests/uring_helpers.hpp)

// Whether a server's arguments choose `-c uring`.
inline bool uses_uring(const std::vector<std::string>& args) {
    for (size_t i = 0; i + 1 < args.size(); ++i)
        if ((args[i] == "-c" || args[i] == "--concurrency") && args[i + 1] == "uring") return true;
    return false;
}

// A folder PREFIX-PID under the temporary directory, removed with everything in it when the object ends
// (with the test program: a site lives in a function-local static).
struct SiteFolder {
    std::filesystem::path base;

    explicit SiteFolder(const std::string& prefix)
        : base(std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(::getpid()))) {
        std::filesystem::create_directories(base);
    }
    ~SiteFolder() {
        std::error_code ignored;
        std::filesystem::remove_all(base, ignored);
    }
    SiteFolder(const SiteFolder&) = delete;
    SiteFolder& operator=(const SiteFolder&) = delete;

    // Writes `content` to `path`, byte for byte.
    static void write(const std::filesystem::path& path, const std::string& content) {
        std::ofstream(path, std::ios::binary) << content;
    }
};

// One HTTP response as the tests read it.
struct Reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
    std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

// Reads one response from `c` (the body by Content-Length; none for HEAD). status 0 if none came, or if
// its head is not HTTP.
inline Reply read_reply(Connection& c, bool head = false, Duration timeout = 10s) {
    Reply reply;
    const auto status_line = c.read_line(timeout);
    if (!status_line || status_line->rfind("HTTP/1.1 ", 0) != 0) return reply;
    reply.status = std::stoi(status_line->substr(9, 3));
    for (;;) {
        auto line = c.read_line(timeout);
        if (!line) return Reply{};
        if (!line->empty() && line->back() == '\r') line->pop_back();
        if (line->empty()) break;
        const auto colon = line->find(':');
        if (colon == std::string::npos) return Reply{};
        std::string name = line->substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        reply.headers[name] = line->substr(line->find_first_not_of(' ', colon + 1));
    }
    if (!head && reply.headers.count("content-length"))
        reply.body = c.read_exact(std::stoull(reply.headers["content-length"]), timeout);
    return reply;
}

// A GET request for `target`, with the `extra` header lines (each ending in "\r\n").
inline std::string get(const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}

// A fresh connection, one GET (Connection: close), the reply.
inline Reply fetch(uint16_t port, const std::string& target, Duration timeout = 10s) {
    Connection c(port);
    c.send(get(target, "Connection: close\r\n"));
    return read_reply(c, false, timeout);
}

}  // namespace http_helpers
