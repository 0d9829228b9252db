#pragma once

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "storage/fs.hpp"

namespace mlo::core {

// Helpers that turn yaml-cpp's nodes into values or one-line errors naming file, line and column:
//   cannot read 'data.csv.mlo' line 3 column 7: 'size' must be a non-negative integer
[[noreturn]] void yaml_fail(const fs::path& file, const YAML::Node& at, const std::string& why);
[[noreturn]] void yaml_fail_at(const fs::path& file, int line, int column, const std::string& why);
YAML::Node parse_yaml(const std::string& text, const fs::path& file);
void expect_map(const YAML::Node& n, const fs::path& file, const std::string& what);
std::string scalar(const YAML::Node& n, const fs::path& file, const std::string& key);
uint64_t as_uint(const YAML::Node& n, const fs::path& file, const std::string& key);
bool as_bool(const YAML::Node& n, const fs::path& file, const std::string& key);

// YAML to JSON with typed scalars: a plain scalar that reads as an integer, a float, true/false
// or null becomes that; anything else, and every quoted scalar, is a string.
nlohmann::json yaml_to_json(const YAML::Node& n);

}  // namespace mlo::core
