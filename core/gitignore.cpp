#include "core/gitignore.hpp"

#include "storage/atomic_file.hpp"

namespace mlo::core {

std::string gitignore_pattern(const std::string& name) {
    // Anchored to this directory, with the characters gitignore treats as patterns escaped.
    std::string out = "/";
    for (char c : name) {
        if (c == '\\' || c == '*' || c == '?' || c == '[') out += '\\';
        out += c;
    }
    // Trailing spaces are dropped by git unless escaped.
    size_t end = out.size();
    while (end > 1 && out[end - 1] == ' ')
        --end;
    std::string trailing;
    for (size_t i = end; i < out.size(); ++i)
        trailing += "\\ ";
    return out.substr(0, end) + trailing;
}

bool ensure_gitignored(const fs::path& data) {
    fs::path file = data.parent_path() / ".gitignore";
    std::string line = gitignore_pattern(data.filename().string());
    std::string text;
    read_file_if_exists(file, text);
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string::npos) eol = text.size();
        std::string_view l(text.data() + pos, eol - pos);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        if (l == line) return false;
        pos = eol + 1;
    }
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += line + "\n";
    write_file_atomic(file, text);
    return true;
}

}  // namespace mlo::core
