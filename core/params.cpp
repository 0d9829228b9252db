#include "core/params.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "storage/error.hpp"

namespace mlo::core {

std::string SourcePos::str() const {
    if (line <= 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

SourcePos pos_of(const std::string& file, const YAML::Node& n) {
    SourcePos p;
    p.file = file;
    if (!n.IsDefined()) return p;
    YAML::Mark m = n.Mark();
    if (!m.is_null()) {
        p.line = m.line + 1;
        p.column = m.column + 1;
    }
    return p;
}

void fail_at(const SourcePos& pos, const std::string& why) {
    throw Error(pos.str() + ": " + why);
}

YAML::Node load_yaml_at(const std::string& text, const std::string& file) {
    try {
        return YAML::Load(text);
    } catch (const YAML::Exception& e) {
        SourcePos p;
        p.file = file;
        if (!e.mark.is_null()) {
            p.line = e.mark.line + 1;
            p.column = e.mark.column + 1;
        }
        fail_at(p, e.msg.empty() ? std::string("invalid YAML") : e.msg);
    }
}

namespace {

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool looks_int(std::string_view s) {
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
    return all_digits(s);
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool looks_float(std::string_view s) {
    size_t i = 0;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t int_digits = 0, frac_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
        ++i, ++int_digits;
    if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
            ++i, ++frac_digits;
    }
    if (int_digits + frac_digits == 0) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
        if (!all_digits(s.substr(i))) return false;
        return true;
    }
    return i == s.size();
}

}  // namespace

std::optional<bool> parse_bool(const std::string& s) {
    std::string l = s;
    for (char& c : l)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (l == "true" || l == "yes" || l == "on") return true;
    if (l == "false" || l == "no" || l == "off") return false;
    return std::nullopt;
}

nlohmann::json scalar_node_to_json(const YAML::Node& n) {
    if (n.IsNull()) return nullptr;
    const std::string& s = n.Scalar();
    const std::string& tag = n.Tag();
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return s;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    if (s == "null" || s == "Null" || s == "NULL" || s == "~") return nullptr;
    if (looks_int(s)) {
        std::string_view v = s;
        if (!v.empty() && v[0] == '+') v.remove_prefix(1);
        if (!v.empty() && v[0] == '-') {
            int64_t x = 0;
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
            if (ec == std::errc() && p == v.data() + v.size()) return x;
        } else {
            uint64_t x = 0;
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
            if (ec == std::errc() && p == v.data() + v.size()) {
                if (x <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(x);
                return x;
            }
        }
        // Too large for 64 bits: a float.
    }
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        uint64_t x = 0;
        auto [p, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), x, 16);
        if (ec == std::errc() && p == s.data() + s.size()) {
            if (x <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(x);
            return x;
        }
    }
    if (looks_float(s)) {
        double d = std::strtod(s.c_str(), nullptr);
        if (std::isfinite(d)) return d;
    }
    return s;
}

nlohmann::json node_to_json(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map: {
            nlohmann::json j = nlohmann::json::object();
            for (auto it = n.begin(); it != n.end(); ++it) {
                std::string key = it->first.IsScalar() ? it->first.Scalar() : YAML::Dump(it->first);
                j[key] = node_to_json(it->second);
            }
            return j;
        }
        case YAML::NodeType::Sequence: {
            nlohmann::json j = nlohmann::json::array();
            for (const auto& e : n)
                j.push_back(node_to_json(e));
            return j;
        }
        case YAML::NodeType::Scalar:
            return scalar_node_to_json(n);
        default:
            return nullptr;
    }
}

std::string scalar_text(const YAML::Node& n) {
    if (n.IsNull()) return "null";
    return n.Scalar();
}

std::optional<YAML::Node> lookup_key(const YAML::Node& root, const std::string& key) {
    if (key.empty()) return std::nullopt;
    YAML::Node cur(root);
    size_t start = 0;
    while (true) {
        size_t dot = key.find('.', start);
        std::string seg =
            key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (seg.empty()) return std::nullopt;
        std::optional<YAML::Node> next;
        if (cur.IsMap()) {
            for (auto it = cur.begin(); it != cur.end(); ++it) {
                if (it->first.IsScalar() && it->first.Scalar() == seg) {
                    next = it->second;
                    break;
                }
            }
        } else if (cur.IsSequence() && all_digits(seg)) {
            size_t idx = 0;
            auto [p, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), idx);
            if (ec == std::errc() && idx < cur.size()) {
                const YAML::Node& seq = cur;
                next = seq[idx];
            }
        }
        if (!next) return std::nullopt;
        cur.reset(*next);
        if (dot == std::string::npos) return cur;
        start = dot + 1;
    }
}

const ParamFiles::File& ParamFiles::get(const std::string& name) {
    auto it = files_.find(name);
    if (it != files_.end()) return it->second;
    File f;
    f.name = name;
    std::optional<std::string> text = reader_(name);
    if (text) {
        f.exists = true;
        f.root = load_yaml_at(*text, name);
        if (!f.root.IsMap() && !f.root.IsNull()) {
            SourcePos p = pos_of(name, f.root);
            if (p.line == 0) p.line = p.column = 1;
            fail_at(p, "a parameter file must be a mapping of names to values");
        }
    }
    return files_.emplace(name, std::move(f)).first->second;
}

namespace {

struct Leaf {
    std::string file;
    SourcePos pos;
};

// Every leaf key of `n` ("train.l2"; lists are leaves), with where its key is written.
void collect_leaves(const YAML::Node& n, const std::string& prefix, const std::string& file,
                    const SourcePos& at, std::vector<std::pair<std::string, SourcePos>>& out) {
    if (n.IsMap() && n.size() > 0) {
        for (auto it = n.begin(); it != n.end(); ++it) {
            std::string k = it->first.IsScalar() ? it->first.Scalar() : YAML::Dump(it->first);
            collect_leaves(it->second, prefix.empty() ? k : prefix + "." + k, file,
                           pos_of(file, it->first), out);
        }
        return;
    }
    if (!prefix.empty()) out.emplace_back(prefix, at);
}

}  // namespace

void ParamFiles::set_search(const std::vector<std::pair<std::string, SourcePos>>& files) {
    search_.clear();
    std::map<std::string, Leaf> defined;  // leaf key -> first file defining it
    for (const auto& [name, pos] : files) {
        if (std::find(search_.begin(), search_.end(), name) != search_.end()) continue;
        const File& f = get(name);
        if (!f.exists && pos.line > 0)
            fail_at(pos, "parameter file " + quote(name) + " does not exist");
        search_.push_back(name);
        if (!f.exists) continue;
        std::vector<std::pair<std::string, SourcePos>> leaves;
        collect_leaves(f.root, "", name, pos_of(name, f.root), leaves);
        for (const auto& [key, kpos] : leaves) {
            // The same key, a key above it or a key below it in an earlier file.
            const Leaf* clash = nullptr;
            std::string other_key;
            for (size_t dot = 0;; ++dot) {
                dot = key.find('.', dot);
                std::string prefix = dot == std::string::npos ? key : key.substr(0, dot);
                auto d = defined.find(prefix);
                if (d != defined.end() && d->second.file != name) {
                    clash = &d->second;
                    other_key = prefix;
                    break;
                }
                if (dot == std::string::npos) break;
            }
            if (!clash) {
                auto d = defined.lower_bound(key + ".");
                if (d != defined.end() && d->first.compare(0, key.size() + 1, key + ".") == 0 &&
                    d->second.file != name) {
                    clash = &d->second;
                    other_key = d->first;
                }
            }
            if (clash) {
                std::string what = other_key == key ? "parameter " + quote(key) + " is"
                                                    : "parameters " + quote(key) + " and " +
                                                          quote(other_key) + " are";
                fail_at(kpos, what + " defined in both " + clash->file + " (" + clash->pos.str() +
                                  ") and " + name);
            }
            defined.emplace(key, Leaf{name, kpos});
        }
    }
}

std::optional<ParamFiles::Found> ParamFiles::find(const std::string& key) {
    for (const auto& name : search_) {
        const File& f = get(name);
        if (!f.exists) continue;
        if (auto n = lookup_key(f.root, key)) return Found{name, *n};
    }
    return std::nullopt;
}

std::string ParamFiles::why_missing() {
    std::string in, absent;
    for (const auto& name : search_) {
        std::string& s = get(name).exists ? in : absent;
        s += (s.empty() ? "" : ", ") + name;
    }
    if (in.empty()) return absent + (search_.size() == 1 ? " does not exist" : " do not exist");
    return "not in " + in;
}

std::string ParamFiles::why_missing_in(const std::string& file) {
    return get(file).exists ? "not in " + file : file + " does not exist";
}

}  // namespace mlo::core
