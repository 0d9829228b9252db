#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mlo {

// Aborts the whole command. cli::run catches it once, prints "mlo: error: <what>" and exits 2.
// Library code that can recover returns a value instead of throwing.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Thrown where an interrupt (SIGINT/SIGTERM) is noticed; maps to exit code 130. Unwinding runs
// the destructors that remove temporary files, so an interrupted command changes nothing.
class Interrupted : public std::exception {
public:
    const char* what() const noexcept override { return "interrupted"; }
};

// 'path' with single quotes, the way every message names its subject.
std::string quote(std::string_view s);
inline std::string quote(const std::string& s) {
    return quote(std::string_view(s));
}
inline std::string quote(const char* s) {
    return quote(std::string_view(s));
}
std::string quote(const std::filesystem::path& p);

// "<what>: <strerror(err)>"
[[noreturn]] void throw_errno(const std::string& what, int err);
[[noreturn]] void throw_errno(const std::string& what);

}  // namespace mlo
