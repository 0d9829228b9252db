#include "storage/error.hpp"

#include <cerrno>
#include <cstring>

namespace mlo {

std::string quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '\'';
    out += s;
    out += '\'';
    return out;
}

std::string quote(const std::filesystem::path& p) {
    return quote(std::string_view(p.native()));
}

void throw_errno(const std::string& what, int err) {
    throw Error(what + ": " + std::strerror(err));
}

void throw_errno(const std::string& what) {
    throw_errno(what, errno);
}

}  // namespace mlo
