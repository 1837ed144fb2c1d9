#include "netutil/error.hpp"

#include <cerrno>

namespace netutil {

void throw_errno(const std::string& what) { throw_error(errno, what); }

void throw_error(int code, const std::string& what) { throw std::system_error(code, std::generic_category(), what); }

}  // namespace netutil
