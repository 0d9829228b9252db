#include "core/yaml_util.hpp"

#include <charconv>
#include <optional>

#include "storage/error.hpp"

namespace mlo::core {

void yaml_fail_at(const fs::path& file, int line, int column, const std::string& why) {
    std::string where = "cannot read " + quote(file);
    if (line >= 0) where += " line " + std::to_string(line + 1);
    if (column >= 0) where += " column " + std::to_string(column + 1);
    throw Error(where + ": " + why);
}

void yaml_fail(const fs::path& file, const YAML::Node& at, const std::string& why) {
    YAML::Mark m = at.Mark();
    yaml_fail_at(file, m.is_null() ? -1 : m.line, m.is_null() ? -1 : m.column, why);
}

YAML::Node parse_yaml(const std::string& text, const fs::path& file) {
    try {
        return YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        yaml_fail_at(file, e.mark.line, e.mark.column, e.msg);
    }
}

void expect_map(const YAML::Node& n, const fs::path& file, const std::string& what) {
    if (!n.IsMap()) yaml_fail(file, n, what + " must be a mapping");
}

std::string scalar(const YAML::Node& n, const fs::path& file, const std::string& key) {
    if (!n.IsScalar()) yaml_fail(file, n, quote(key) + " must be a single value");
    return n.Scalar();
}

uint64_t as_uint(const YAML::Node& n, const fs::path& file, const std::string& key) {
    std::string s = scalar(n, file, key);
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
        yaml_fail(file, n, quote(key) + " must be a non-negative integer, not " + quote(s));
    }
    return v;
}

bool as_bool(const YAML::Node& n, const fs::path& file, const std::string& key) {
    std::string s = scalar(n, file, key);
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
    yaml_fail(file, n, quote(key) + " must be true or false, not " + quote(s));
}

namespace {

std::optional<nlohmann::json> typed_scalar(const std::string& v) {
    if (v == "true" || v == "True" || v == "TRUE") return nlohmann::json(true);
    if (v == "false" || v == "False" || v == "FALSE") return nlohmann::json(false);
    if (v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL")
        return nlohmann::json(nullptr);
    const char* b = v.data();
    const char* e = b + v.size();
    int64_t i = 0;
    auto [pi, ei] = std::from_chars(b, e, i);
    if (ei == std::errc() && pi == e) return nlohmann::json(i);
    if (v.find_first_of("0123456789") == std::string::npos) return std::nullopt;
    double d = 0;
    auto [pd, ed] = std::from_chars(b, e, d);
    if (ed == std::errc() && pd == e) return nlohmann::json(d);
    return std::nullopt;
}

}  // namespace

nlohmann::json yaml_to_json(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map: {
            nlohmann::json j = nlohmann::json::object();
            for (const auto& kv : n)
                j[kv.first.Scalar()] = yaml_to_json(kv.second);
            return j;
        }
        case YAML::NodeType::Sequence: {
            nlohmann::json j = nlohmann::json::array();
            for (const auto& v : n)
                j.push_back(yaml_to_json(v));
            return j;
        }
        case YAML::NodeType::Scalar: {
            if (n.Tag() == "!") return n.Scalar();  // quoted: always a string
            if (auto t = typed_scalar(n.Scalar())) return *t;
            return n.Scalar();
        }
        default:
            return nullptr;
    }
}

}  // namespace mlo::core
