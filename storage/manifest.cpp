#include "storage/manifest.hpp"

#include <algorithm>
#include <charconv>

#include "storage/error.hpp"

namespace mlo {

namespace {

constexpr std::string_view kHeader = "mlo-manifest 1";

void escape_into(std::string& out, std::string_view path) {
    for (char c : path) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += c;
        }
    }
}

bool unescape(std::string_view in, std::string& out) {
    if (in.find('\\') == std::string_view::npos) {
        out.assign(in);
        return true;
    }
    out.clear();
    out.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '\\') {
            out += in[i];
            continue;
        }
        if (++i == in.size()) return false;
        switch (in[i]) {
            case '\\':
                out += '\\';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            default:
                return false;
        }
    }
    return true;
}

[[noreturn]] void manifest_error(const std::string& name, size_t line, const std::string& why) {
    throw Error("cannot read manifest " + quote(name) + " line " + std::to_string(line) + ": " +
                why);
}

}  // namespace

bool is_safe_relative_path(std::string_view path) {
    if (path.empty() || path.front() == '/') return false;
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) slash = path.size();
        std::string_view part = path.substr(start, slash - start);
        if (part.empty() || part == "." || part == "..") return false;
        start = slash + 1;
    }
    return path.find('\0') == std::string_view::npos;
}

Manifest::Manifest(std::vector<ManifestEntry> entries) : entries_(std::move(entries)) {
    std::sort(entries_.begin(), entries_.end(),
              [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
    for (size_t i = 1; i < entries_.size(); ++i) {
        if (entries_[i].path == entries_[i - 1].path) {
            throw Error("duplicate path in directory manifest: " + quote(entries_[i].path));
        }
    }
}

uint64_t Manifest::total_size() const {
    uint64_t total = 0;
    for (const auto& e : entries_)
        total += e.size;
    return total;
}

const ManifestEntry* Manifest::find(std::string_view path) const {
    auto it =
        std::lower_bound(entries_.begin(), entries_.end(), path,
                         [](const ManifestEntry& e, std::string_view p) { return e.path < p; });
    return it != entries_.end() && it->path == path ? &*it : nullptr;
}

std::string Manifest::serialize() const {
    std::string out;
    out.reserve(kHeader.size() + 1 + entries_.size() * 100);
    out += kHeader;
    out += '\n';
    for (const auto& e : entries_) {
        out += to_hex(e.digest);
        out += ' ';
        out += std::to_string(e.size);
        out += e.executable ? " x " : " - ";
        escape_into(out, e.path);
        out += '\n';
    }
    return out;
}

Manifest Manifest::parse(std::string_view text, const std::string& name) {
    size_t line_no = 0;
    auto fail = [&](const std::string& why) { manifest_error(name, line_no, why); };
    std::vector<ManifestEntry> entries;
    // One line per entry after the header: size the vector once.
    entries.reserve(size_t(std::count(text.begin(), text.end(), '\n')));
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) {
            ++line_no;
            fail("missing final newline");
        }
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        ++line_no;
        if (line_no == 1) {
            if (line != kHeader) fail("not a manifest (expected '" + std::string(kHeader) + "')");
            continue;
        }
        // <hex> <size> <x|-> <path>
        if (line.size() < 64 + 1 + 1 + 1 + 1 + 1 + 1 || line[64] != ' ') fail("malformed entry");
        ManifestEntry e;
        auto d = digest_from_hex(line.substr(0, 64));
        if (!d) fail("malformed hash");
        e.digest = *d;
        size_t sp = line.find(' ', 65);
        if (sp == std::string_view::npos) fail("malformed entry");
        auto sz = line.substr(65, sp - 65);
        auto [p, ec] = std::from_chars(sz.data(), sz.data() + sz.size(), e.size);
        if (ec != std::errc() || p != sz.data() + sz.size() || sz.empty()) fail("malformed size");
        if (sp + 3 > line.size() || line[sp + 2] != ' ') fail("malformed mode");
        char mode = line[sp + 1];
        if (mode != 'x' && mode != '-') fail("malformed mode");
        e.executable = mode == 'x';
        if (!unescape(line.substr(sp + 3), e.path) || !is_safe_relative_path(e.path)) {
            fail("malformed path");
        }
        if (!entries.empty() && !(entries.back().path < e.path)) fail("entries out of order");
        entries.push_back(std::move(e));
    }
    if (line_no == 0) fail("empty");
    Manifest m;
    m.entries_ = std::move(entries);
    return m;
}

}  // namespace mlo
