// fuzz/fuzz_http.cpp: the HTTP request parser and the path resolver of lab 08 (http::parse_request,
// http::resolve_target), through their narrow interface in 08_webclient/http.hpp.
//
// Invariants checked, beyond "no crash":
// - parse_request: Complete only for GET/HEAD with a target free of blanks and control bytes, that
//   occurs in the input, `consumed` within the input; the same request parses identically from exactly
//   its `consumed` bytes and with more bytes after them (pipelining); an error is one of the documented
//   statuses and carries no half-filled request; an incomplete input's first half is incomplete too.
// - resolve_target (the input as a target, under a folder made once for the run): the status is one of
//   200/400/403/404; a 200 opens a regular file that is one of the files inside the folder (by device
//   and inode), never the file beside it or one reached through a symbolic link leading out; the
//   relative path never starts with '/' nor holds a ".." segment; anything but 200 opens nothing.
#include "08_webclient/http.hpp"

#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace {

using Inode = std::pair<dev_t, ino_t>;

struct Folder {
    int root_fd = -1;
    std::set<Inode> inside;
    Inode outside{};
};

void write_file(const std::string& path, const std::string& text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::abort();
    ::close(fd);
}

Inode inode_of(const std::string& path) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) std::abort();
    return {info.st_dev, info.st_ino};
}

// base/secret.txt beside the folder, base/root/ with files, a subfolder, a FIFO and links out.
const Folder& folder() {
    static const Folder made = [] {
        char base_template[] = "/tmp/fuzz_http.XXXXXX";
        const char* base_c = ::mkdtemp(base_template);
        if (!base_c) std::abort();
        const std::string base = base_c, root = base + "/root";
        if (::mkdir(root.c_str(), 0755) != 0 || ::mkdir((root + "/sub").c_str(), 0755) != 0) std::abort();
        write_file(base + "/secret.txt", "secret\n");
        write_file(root + "/index.html", "<p>index</p>\n");
        write_file(root + "/a.txt", "a\n");
        write_file(root + "/sub/index.html", "<p>sub</p>\n");
        write_file(root + "/sub/b c.txt", "b\n");
        if (::symlink("../secret.txt", (root + "/out.txt").c_str()) != 0) std::abort();
        if (::symlink(base.c_str(), (root + "/up").c_str()) != 0) std::abort();
        if (::symlink("a.txt", (root + "/in.txt").c_str()) != 0) std::abort();
        if (::mkfifo((root + "/fifo").c_str(), 0644) != 0) std::abort();
        static std::string made_base;
        made_base = base;
        std::atexit([] {
            std::error_code ignored;
            std::filesystem::remove_all(made_base, ignored);
        });
        Folder f;
        f.root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (f.root_fd < 0) std::abort();
        for (const char* name : {"/index.html", "/a.txt", "/sub/index.html", "/sub/b c.txt"})
            f.inside.insert(inode_of(root + name));
        f.outside = inode_of(base + "/secret.txt");
        return f;
    }();
    return made;
}

bool documented_error(int status) {
    for (const int s : {400, 405, 413, 414, 431, 501, 505})
        if (status == s) return true;
    return false;
}

void check_parse(std::string_view data) {
    const http::ParseResult parsed = http::parse_request(data);
    if (parsed.status == http::ParseStatus::Complete) {
        const auto& r = parsed.request;
        if (r.method != "GET" && r.method != "HEAD") std::abort();
        if (r.target.empty() || data.find(r.target) == std::string_view::npos) std::abort();
        for (const unsigned char c : r.target)
            if (c <= 0x20 || c == 0x7f) std::abort();
        if (r.version_minor != 0 && r.version_minor != 1) std::abort();
        if (parsed.consumed == 0 || parsed.consumed > data.size() || parsed.error_status != 0) std::abort();
        const std::string exact(data.substr(0, parsed.consumed));
        for (const std::string& again_input : {exact, exact + "GET / HTTP/1.1\r\n", exact + "\x01"}) {
            const http::ParseResult again = http::parse_request(again_input);
            if (again.status != http::ParseStatus::Complete || again.consumed != parsed.consumed ||
                again.request.method != r.method || again.request.target != r.target ||
                again.request.version_minor != r.version_minor || again.request.keep_alive != r.keep_alive)
                std::abort();
        }
    } else {
        // Nothing half-filled when the request is refused or not all there.
        if (!parsed.request.method.empty() || !parsed.request.target.empty() || parsed.consumed != 0) std::abort();
        if (parsed.status == http::ParseStatus::Error && !documented_error(parsed.error_status)) std::abort();
        if (parsed.status == http::ParseStatus::Incomplete) {
            if (parsed.error_status != 0) std::abort();
            if (http::parse_request(data.substr(0, data.size() / 2)).status != http::ParseStatus::Incomplete)
                std::abort();
        }
    }
}

void check_resolve(std::string_view target) {
    const Folder& f = folder();
    const http::Resolved resolved = http::resolve_target(target, f.root_fd);
    const int s = resolved.status;
    if (s != 200 && s != 400 && s != 403 && s != 404) std::abort();
    if (s != 200) {
        if (resolved.file) std::abort();
        return;
    }
    if (!resolved.file) std::abort();
    struct stat info {};
    if (::fstat(resolved.file.get(), &info) != 0 || !S_ISREG(info.st_mode)) std::abort();
    const Inode opened{info.st_dev, info.st_ino};
    if (opened == f.outside || !f.inside.count(opened)) std::abort();  // never outside the folder
    const std::string& rel = resolved.relative;
    if (!rel.empty() && rel.front() == '/') std::abort();
    if (rel.find('\0') != std::string::npos) std::abort();
    const std::string padded = "/" + rel + "/";
    if (padded.find("/../") != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > 40000) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    if (data[0] & 1)
        check_resolve(input.substr(0, 2000));
    else
        check_parse(input);
    return 0;
}
