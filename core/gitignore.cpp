#include "core/gitignore.hpp"

#include "storage/atomic_file.hpp"

namespace mlo::core {

bool ensure_gitignored(const fs::path& data) {
    fs::path file = data.parent_path() / ".gitignore";
    std::string line = "/" + data.filename().string();
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
