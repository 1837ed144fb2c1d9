// 08_webclient/http.hpp: the HTTP/1.1 request parser and the path resolver of the file server.
//
// A narrow interface on purpose: parse_request() sees only bytes and returns a request or a status code,
// resolve_target() sees only a request target and the served folder and returns a file or a status code.
// Neither does any socket I/O, so both can be tested (and fuzzed) on their own.
#pragma once

#include "netutil/fd.hpp"

#include <cstddef>
#include <ctime>
#include <string>
#include <string_view>
#include <sys/stat.h>

namespace http {

inline constexpr size_t kMaxRequestLine = 8 * 1024;   // longer: 414 URI Too Long
inline constexpr size_t kMaxHeaderBytes = 16 * 1024;  // a longer header section: 431
inline constexpr size_t kMaxBody = 64 * 1024;         // a GET/HEAD body we read and discard; longer: 413

struct Request {
    std::string method;      // "GET", "HEAD"
    std::string target;      // as sent: "/docs/page.html?x=1"
    int version_minor = 1;   // HTTP/1.0 or HTTP/1.1
    bool keep_alive = true;  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive"
    bool head() const { return method == "HEAD"; }
};

enum class ParseStatus {
    Incomplete,  // the request is not all there yet: read more and call again with the longer buffer
    Complete,    // `request` is filled in; `consumed` bytes of the buffer belong to it (body included)
    Error,       // answer `error_status` and close the connection
};

struct ParseResult {
    ParseStatus status = ParseStatus::Incomplete;
    Request request{};
    size_t consumed = 0;
    int error_status = 0;  // 400, 405, 413, 414, 431, 501, 505
};

// Parses the request at the start of `data`. Pipelined requests: call again on what follows `consumed`.
// Never reads past `data`, never allocates more than the request's own fields.
ParseResult parse_request(std::string_view data);

// The file a request target names under the served folder, opened.
struct Resolved {
    int status = 0;            // 200, or 400 (malformed target), 403 (outside the folder, not a file), 404
    netutil::UniqueFd file{};  // the open file (status 200)
    struct stat info {};       // its fstat (status 200)
    std::string relative;      // the decoded path under the folder ("docs/page.html"), for Content-Type and logs
};

// Takes a request target ("/a/b.html?q", or "http://host/a/b.html"), percent-decodes it and opens the file
// it names under the folder open as `root_fd`. Nothing outside the folder is ever opened: ".." segments,
// encoded slashes (%2f), NUL bytes are refused here, and the kernel (openat2 with RESOLVE_BENEATH) refuses
// absolute paths and symbolic links leading out, with no race between checking and opening. A directory
// resolves to its index.html; anything but a regular file (a FIFO, a device) is 403.
Resolved resolve_target(std::string_view target, int root_fd);

// Percent-decodes `text`; false on a bad escape ("%zz", "%4").
bool percent_decode(std::string_view text, std::string& out);

// "text/html; charset=utf-8" for "page.html"; application/octet-stream when the extension is unknown.
std::string_view content_type(std::string_view path);

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::string http_date(time_t when);

// "OK", "Not Found", ...
std::string_view reason_phrase(int status);

// The status line and headers of a response (ends with the empty line).
std::string response_head(int status, size_t content_length, std::string_view content_type, bool keep_alive,
                          time_t last_modified = 0, std::string_view extra_headers = {});

// A complete small response for an error status: a short text/html body naming the status (none for HEAD).
std::string error_response(int status, bool keep_alive, bool head_only = false);

}  // namespace http
