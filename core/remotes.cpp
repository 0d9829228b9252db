#include "core/remotes.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "storage/atomic_file.hpp"
#include "storage/error.hpp"

namespace mlo::core {

namespace {

bool remote_name_ok(const std::string& n) {
    if (n.empty() || n.size() > 64 || n[0] == '.' || n[0] == '-') return false;
    return std::all_of(n.begin(), n.end(), [](char ch) {
        return std::isalnum(uint8_t(ch)) || ch == '_' || ch == '.' || ch == '-';
    });
}

// S3's bucket naming rules: 3 to 63 characters, lowercase letters, digits, dots and hyphens,
// beginning and ending with a letter or digit.
bool bucket_name_ok(const std::string& b) {
    if (b.size() < 3 || b.size() > 63) return false;
    if (!std::isalnum(uint8_t(b.front())) || !std::isalnum(uint8_t(b.back()))) return false;
    return std::all_of(b.begin(), b.end(), [](char ch) {
        return std::islower(uint8_t(ch)) || std::isdigit(uint8_t(ch)) || ch == '.' || ch == '-';
    });
}

void check_spec(const RemoteSpec& r) {
    if (!remote_name_ok(r.name))
        throw Error("invalid remote name " + quote(r.name) +
                    ": use letters, digits, '_', '.' and '-', not starting with '.' or '-'");
    if (r.url.rfind("s3://", 0) == 0) {
        std::string rest = r.url.substr(5);
        std::string bucket = rest.substr(0, rest.find('/'));
        if (!bucket_name_ok(bucket))
            throw Error("invalid S3 URL " + quote(r.url) + ": bucket " + quote(bucket) +
                        " is not a valid bucket name");
        if (rest.find("//") != std::string::npos)
            throw Error("invalid S3 URL " + quote(r.url) + ": empty path component");
        if (!r.endpoint.empty() && r.endpoint.rfind("http://", 0) != 0 &&
            r.endpoint.rfind("https://", 0) != 0)
            throw Error("invalid endpoint " + quote(r.endpoint) +
                        ": give a URL starting with http:// or https://");
        return;
    }
    if (r.url.find("://") != std::string::npos && r.url.rfind("file://", 0) != 0)
        throw Error("unsupported remote URL " + quote(r.url) +
                    ": give a directory or s3://bucket/prefix");
    if (r.url.empty() || r.url == "file://") throw Error("remote " + quote(r.name) + " has no URL");
    if (!r.endpoint.empty() || !r.region.empty() || !r.profile.empty() || r.path_style)
        throw Error("remote " + quote(r.name) +
                    ": --endpoint, --region, --profile and --path-style apply to s3:// remotes "
                    "only");
}

// A YAML scalar: plain when that reads back as the same string, else double-quoted (a JSON
// string is a valid YAML double-quoted scalar).
std::string yaml_text(const std::string& s) {
    bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
        return std::isalnum(uint8_t(ch)) ||
               std::string_view("_./:@+-~").find(ch) != std::string_view::npos;
    });
    if (plain && (s == "true" || s == "false" || s == "null" || s == "~" || s[0] == '-' ||
                  s[0] == ':' || s[0] == '@' || s[0] == '~' || std::isdigit(uint8_t(s[0])) ||
                  s.find(": ") != std::string::npos))
        plain = false;
    return plain ? s : nlohmann::json(s).dump();
}

std::string remotes_section(const std::vector<RemoteSpec>& remotes, const std::string& def) {
    if (remotes.empty()) return "";
    std::string out = "remotes:  # written by `mlo remote add/remove`\n";
    for (const auto& r : remotes) {
        out += "  " + yaml_text(r.name) + ":\n";
        out += "    url: " + yaml_text(r.url) + "\n";
        if (!r.endpoint.empty()) out += "    endpoint: " + yaml_text(r.endpoint) + "\n";
        if (!r.region.empty()) out += "    region: " + yaml_text(r.region) + "\n";
        if (!r.profile.empty()) out += "    profile: " + yaml_text(r.profile) + "\n";
        if (r.path_style) out += "    path_style: true\n";
        if (r.name == def) out += "    default: true\n";
    }
    return out;
}

// Replaces the top-level `remotes:` section of `text` (up to the next top-level key) with
// `section`, or appends it.
std::string replace_section(const std::string& text, const std::string& section) {
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size() - 1;
        lines.push_back(text.substr(pos, nl - pos + 1));
        pos = nl + 1;
    }
    std::string out;
    bool inside = false, placed = false;
    for (const auto& l : lines) {
        bool top_level = !l.empty() && l[0] != ' ' && l[0] != '\t' && l[0] != '#' && l[0] != '\n';
        if (top_level) inside = l.rfind("remotes:", 0) == 0;
        if (inside) {
            if (!placed) out += section;
            placed = true;
            continue;
        }
        out += l;
        if (!l.empty() && l.back() != '\n') out += '\n';
    }
    if (!placed) out += section;
    return out;
}

void write_remotes(const fs::path& file, const std::vector<RemoteSpec>& remotes,
                   const std::string& def) {
    std::string text;
    read_file_if_exists(file, text);
    std::string updated = replace_section(text, remotes_section(remotes, def));
    write_file_atomic(file, updated, Sync::yes);
    // Read back: a configuration mlo cannot load again must never be left behind.
    Config::load(file);
}

}  // namespace

const RemoteSpec& find_remote(const Config& config, const std::string& name) {
    if (config.remotes.empty())
        throw Error("no remote is configured: add one with 'mlo remote add NAME URL --default'");
    if (name.empty()) {
        if (!config.default_remote.empty()) return find_remote(config, config.default_remote);
        if (config.remotes.size() == 1) return config.remotes.front();
        throw Error(
            "no default remote: name one with -r NAME, or mark one with "
            "'mlo remote default NAME'");
    }
    for (const auto& r : config.remotes)
        if (r.name == name) return r;
    std::string names;
    for (const auto& r : config.remotes)
        names += (names.empty() ? "" : ", ") + r.name;
    throw Error("no remote named " + quote(name) + " (configured: " + names + ")");
}

void add_remote(const fs::path& config_file, const RemoteSpec& spec, bool make_default) {
    check_spec(spec);
    Config c = Config::load(config_file);
    for (const auto& r : c.remotes)
        if (r.name == spec.name)
            throw Error("remote " + quote(spec.name) + " already exists (" + r.url +
                        "); remove it first");
    c.remotes.push_back(spec);
    write_remotes(config_file, c.remotes, make_default ? spec.name : c.default_remote);
}

void remove_remote(const fs::path& config_file, const std::string& name) {
    Config c = Config::load(config_file);
    auto it = std::find_if(c.remotes.begin(), c.remotes.end(),
                           [&](const RemoteSpec& r) { return r.name == name; });
    if (it == c.remotes.end()) find_remote(c, name);  // throws the "no remote named" error
    c.remotes.erase(it);
    write_remotes(config_file, c.remotes, c.default_remote == name ? "" : c.default_remote);
}

void set_default_remote(const fs::path& config_file, const std::string& name) {
    Config c = Config::load(config_file);
    find_remote(c, name);
    write_remotes(config_file, c.remotes, name);
}

}  // namespace mlo::core
