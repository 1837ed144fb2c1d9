// 08_webclient/http.cpp: the request parser and the path resolver (see http.hpp). No socket I/O here.
#include "http.hpp"

#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace http {

namespace {

bool is_token_char(unsigned char c) {
    if (c >= '0' && c <= '9') return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~': return true;
        default: return false;
    }
}

bool is_token(std::string_view text) {
    if (text.empty()) return false;
    for (unsigned char c : text)
        if (!is_token_char(c)) return false;
    return true;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x | 0x20);
        if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y | 0x20);
        if (x != y) return false;
    }
    return true;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// One line ending in "\n" (a "\r" before it is dropped) starting at `from`; npos when not all there.
size_t line_end(std::string_view data, size_t from) { return data.find('\n', from); }

std::string_view line_at(std::string_view data, size_t from, size_t newline) {
    std::string_view line = data.substr(from, newline - from);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

ParseResult error(int status) {
    ParseResult result;
    result.status = ParseStatus::Error;
    result.error_status = status;
    return result;
}

bool known_method(std::string_view method) {
    for (std::string_view m : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"})
        if (method == m) return true;
    return false;
}

// "HTTP/1.1" -> major 1, minor 1; false unless the form is HTTP/DIGIT.DIGIT.
bool parse_version(std::string_view text, int& major, int& minor) {
    if (text.size() != 8 || text.substr(0, 5) != "HTTP/" || text[6] != '.') return false;
    if (text[5] < '0' || text[5] > '9' || text[7] < '0' || text[7] > '9') return false;
    major = text[5] - '0';
    minor = text[7] - '0';
    return true;
}

}  // namespace

ParseResult parse_request(std::string_view data) {
    // Empty lines before a request line are ignored (RFC 9112, 2.2), within the request-line limit.
    size_t start = 0;
    while (start < data.size() && (data[start] == '\r' || data[start] == '\n')) ++start;
    if (start > kMaxRequestLine) return error(400);
    if (start == data.size()) return {};

    // The request line: METHOD SP TARGET SP HTTP/x.y
    const size_t first_newline = line_end(data, start);
    if (first_newline == std::string_view::npos)
        return data.size() - start > kMaxRequestLine ? error(414) : ParseResult{};
    if (first_newline - start > kMaxRequestLine) return error(414);
    const std::string_view line = line_at(data, start, first_newline);
    const size_t space1 = line.find(' ');
    const size_t space2 = space1 == std::string_view::npos ? space1 : line.find(' ', space1 + 1);
    if (space2 == std::string_view::npos || line.find(' ', space2 + 1) != std::string_view::npos) return error(400);
    const std::string_view method = line.substr(0, space1);
    const std::string_view target = line.substr(space1 + 1, space2 - space1 - 1);
    const std::string_view version = line.substr(space2 + 1);
    if (!is_token(method) || target.empty()) return error(400);
    for (unsigned char c : target)
        if (c <= 0x20 || c == 0x7f) return error(400);
    int major = 0, minor = 0;
    if (!parse_version(version, major, minor)) return error(400);
    if (major != 1) return error(505);
    if (method != "GET" && method != "HEAD") return error(known_method(method) ? 405 : 501);

    // The header fields, up to the empty line.
    ParseResult result;
    Request& request = result.request;
    request.method = std::string(method);
    request.target = std::string(target);
    request.version_minor = minor == 0 ? 0 : 1;
    const size_t headers_start = first_newline + 1;
    bool has_host = false, has_length = false, connection_close = false, connection_keep_alive = false;
    size_t content_length = 0;
    size_t pos = headers_start;
    for (;;) {
        const size_t newline = line_end(data, pos);
        if (newline == std::string_view::npos)
            return data.size() - headers_start > kMaxHeaderBytes ? error(431) : ParseResult{};
        if (newline + 1 - headers_start > kMaxHeaderBytes) return error(431);
        const std::string_view field = line_at(data, pos, newline);
        pos = newline + 1;
        if (field.empty()) break;
        if (field.front() == ' ' || field.front() == '\t') return error(400);  // obsolete line folding
        const size_t colon = field.find(':');
        if (colon == std::string_view::npos) return error(400);
        const std::string_view name = field.substr(0, colon);
        const std::string_view value = trim(field.substr(colon + 1));
        if (!is_token(name)) return error(400);  // also refuses "Name : value" (RFC 9112, 5.1)
        for (unsigned char c : value)
            if ((c < 0x20 && c != '\t') || c == 0x7f) return error(400);
        if (iequals(name, "host")) {
            if (has_host) return error(400);
            has_host = true;
        } else if (iequals(name, "content-length")) {
            size_t length = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
            if (value.empty() || ec == std::errc::result_out_of_range) return error(ec == std::errc{} ? 400 : 413);
            if (ec != std::errc{} || end != value.data() + value.size()) return error(400);
            if (has_length && length != content_length) return error(400);
            has_length = true;
            content_length = length;
        } else if (iequals(name, "transfer-encoding")) {
            return error(501);  // chunked request bodies: not for a GET/HEAD file server
        } else if (iequals(name, "connection")) {
            std::string_view rest = value;
            while (!rest.empty()) {
                const size_t comma = rest.find(',');
                const std::string_view option = trim(rest.substr(0, comma));
                if (iequals(option, "close")) connection_close = true;
                if (iequals(option, "keep-alive")) connection_keep_alive = true;
                rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
        }
    }
    if (request.version_minor == 1 && !has_host) return error(400);  // RFC 9112, 3.2: Host is required in 1.1
    if (content_length > kMaxBody) return error(413);
    if (data.size() - pos < content_length) return {};  // the (ignored) body is not all there yet
    request.keep_alive = request.version_minor == 1 ? !connection_close : (connection_keep_alive && !connection_close);
    result.status = ParseStatus::Complete;
    result.consumed = pos + content_length;
    return result;
}

bool percent_decode(std::string_view text, std::string& out) {
    out.clear();
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) return false;  // "%4" at the end
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
        if (ec != std::errc{} || end != text.data() + i + 3) return false;
        out.push_back(static_cast<char>(value));
        i += 2;
    }
    return true;
}

Resolved resolve_target(std::string_view target, int root_fd) {
    Resolved resolved;
    // The absolute form "http://host/path" (RFC 9112, 3.2.2): keep the path.
    for (std::string_view scheme : {"http://", "https://"}) {
        if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
            const size_t slash = target.find('/', scheme.size());
            target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
            break;
        }
    }
    if (target.empty() || target.front() != '/') {
        resolved.status = 400;
        return resolved;
    }
    target = target.substr(0, target.find_first_of("?#"));

    // Percent-decoding first, then normalization: "%2e%2e" is "..", and is refused as ".." is. An encoded
    // slash or NUL has no place in a file name we would serve.
    std::string decoded;
    if (!percent_decode(target, decoded) || decoded.find('\0') != std::string::npos) {
        resolved.status = 400;
        return resolved;
    }
    for (size_t i = 0; i + 2 < target.size(); ++i) {
        if (target[i] == '%' && target[i + 1] == '2' && (target[i + 2] == 'f' || target[i + 2] == 'F')) {
            resolved.status = 400;
            return resolved;
        }
    }
    std::string& relative = resolved.relative;
    size_t pos = 0;
    while (pos <= decoded.size()) {
        size_t slash = decoded.find('/', pos);
        if (slash == std::string::npos) slash = decoded.size();
        const std::string_view segment(decoded.data() + pos, slash - pos);
        pos = slash + 1;
        if (segment.empty() || segment == ".") continue;
        if (segment == "..") {
            resolved.status = 403;
            return resolved;
        }
        if (!relative.empty()) relative.push_back('/');
        relative.append(segment);
    }

    // openat2 with RESOLVE_BENEATH: the kernel refuses any path (absolute, "..", or a symbolic link) that
    // would leave the folder. O_NONBLOCK: opening a FIFO must not hang the server.
    const auto open_beneath = [&](const std::string& path) {
        open_how how{};
        how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd;
        do fd = ::syscall(SYS_openat2, root_fd, path.empty() ? "." : path.c_str(), &how, sizeof how);
        while (fd == -1 && errno == EINTR);
        return static_cast<int>(fd);
    };
    const auto status_of_errno = [](int code) {
        switch (code) {
            case ENOENT:
            case ENOTDIR:
            case ENAMETOOLONG: return 404;
            case EMFILE:
            case ENFILE:
            case ENOMEM: return 503;  // out of descriptors: refuse cleanly, never 403
            default: return 403;      // EXDEV (leads out of the folder), EACCES, ELOOP, ...
        }
    };
    int fd = open_beneath(relative);
    if (fd == -1) {
        resolved.status = status_of_errno(errno);
        return resolved;
    }
    resolved.file.reset(fd);
    if (::fstat(fd, &resolved.info) == -1) {
        resolved.status = 403;
        return resolved;
    }
    if (S_ISDIR(resolved.info.st_mode)) {
        relative += relative.empty() ? "index.html" : "/index.html";
        fd = open_beneath(relative);
        if (fd == -1) {
            resolved.file.reset();
            resolved.status = status_of_errno(errno);
            return resolved;
        }
        resolved.file.reset(fd);
        if (::fstat(fd, &resolved.info) == -1) {
            resolved.status = 403;
            return resolved;
        }
    }
    if (!S_ISREG(resolved.info.st_mode)) {
        resolved.file.reset();
        resolved.status = 403;
        return resolved;
    }
    resolved.status = 200;
    return resolved;
}

std::string_view content_type(std::string_view path) {
    const size_t slash = path.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    const size_t dot = name.rfind('.');
    if (dot == std::string_view::npos) return "application/octet-stream";
    const std::string_view ext = name.substr(dot + 1);
    static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"},
        {"md", "text/markdown; charset=utf-8"},
        {"css", "text/css"},
        {"js", "text/javascript"},
        {"json", "application/json"},
        {"xml", "application/xml"},
        {"csv", "text/csv"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"svg", "image/svg+xml"},
        {"ico", "image/x-icon"},
        {"webp", "image/webp"},
        {"pdf", "application/pdf"},
        {"wasm", "application/wasm"},
        {"mp4", "video/mp4"},
        {"zip", "application/zip"},
        {"gz", "application/gzip"},
    };
    for (const auto& [known, type] : kTypes)
        if (iequals(ext, known)) return type;
    return "application/octet-stream";
}

std::string http_date(time_t when) {
    tm parts{};
    ::gmtime_r(&when, &parts);
    char text[64];
    const size_t n = ::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);
    return std::string(text, n);
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

std::string response_head(int status, size_t content_length, std::string_view content_type, bool keep_alive,
                          time_t last_modified, std::string_view extra_headers) {
    // The Date header changes once a second: format it once a second per thread, not once per response.
    thread_local time_t date_second = 0;
    thread_local std::string date_text;
    const time_t now = ::time(nullptr);
    if (now != date_second) {
        date_second = now;
        date_text = http_date(now);
    }
    std::string head;
    head.reserve(256);
    head += "HTTP/1.1 ";
    head += std::to_string(status);
    head += ' ';
    head += reason_phrase(status);
    head += "\r\nServer: labkit-08\r\nDate: ";
    head += date_text;
    head += "\r\nContent-Type: ";
    head += content_type;
    head += "\r\nContent-Length: ";
    head += std::to_string(content_length);
    if (last_modified != 0) {
        head += "\r\nLast-Modified: ";
        head += http_date(last_modified);
    }
    head += keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n";
    head += extra_headers;
    head += "\r\n";
    return head;
}

std::string error_response(int status, bool keep_alive, bool head_only) {
    const std::string title = std::to_string(status) + " " + std::string(reason_phrase(status));
    const std::string body =
        "<!DOCTYPE html>\n<html><head><title>" + title + "</title></head><body><h1>" + title + "</h1></body></html>\n";
    const std::string_view extra = status == 405 ? "Allow: GET, HEAD\r\n" : "";
    std::string response = response_head(status, body.size(), "text/html; charset=utf-8", keep_alive, 0, extra);
    if (!head_only) response += body;
    return response;
}

}  // namespace http
