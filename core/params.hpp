#pragma once

// Private helpers of the pipeline parser (issue 3): positioned errors in the
// "<file>:<line>:<column>: <why>" format, YAML to typed JSON, and parameter files (params.yaml
// and the files under `vars:`) with dotted-key lookup.

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/pipeline.hpp"

namespace mlo::core {

// Where `n` is written in `file` (1-based; line 0 when yaml-cpp does not know).
SourcePos pos_of(const std::string& file, const YAML::Node& n);
// Throws Error "<file>:<line>:<column>: <why>".
[[noreturn]] void fail_at(const SourcePos& pos, const std::string& why);
// Parses YAML text; a syntax error throws Error "<file>:<line>:<column>: <why>".
YAML::Node load_yaml_at(const std::string& text, const std::string& file);

// A plain scalar typed the way YAML 1.2's core schema reads it: int, float, bool, null, else
// string. Quoted scalars (and ones tagged !!str) stay strings.
nlohmann::json scalar_node_to_json(const YAML::Node& n);
// A whole node, scalars typed as above.
nlohmann::json node_to_json(const YAML::Node& n);
// A scalar's text as written ("0.1", "true", "abc"); "null" for a null node.
std::string scalar_text(const YAML::Node& n);
// "true"/"false" and the YAML 1.1 spellings (yes/no/on/off), any case; nullopt otherwise.
std::optional<bool> parse_bool(const std::string& s);

// The node at a dotted key ("train.l2", "layers.0": a numeric segment indexes a list), or
// nullopt. Never modifies `root`.
std::optional<YAML::Node> lookup_key(const YAML::Node& root, const std::string& key);

// Parameter files, read through `reader` (repository-relative name -> text, nullopt when the
// file does not exist) and parsed once.
class ParamFiles {
public:
    using Reader = std::function<std::optional<std::string>(const std::string&)>;
    explicit ParamFiles(Reader reader) : reader_(std::move(reader)) {}

    struct File {
        std::string name;
        bool exists = false;
        YAML::Node root;  // a mapping (or null when empty/missing)
    };
    // Loads (once) and returns the file; a malformed file throws with its own position.
    const File& get(const std::string& name);

    // The files `${...}` reads: params.yaml then the `vars:` files, in order. Loads them all and
    // throws when a key is defined in two of them (at the later definition). A `vars:` file
    // that does not exist is an error at `pos`.
    void set_search(const std::vector<std::pair<std::string, SourcePos>>& files);

    struct Found {
        std::string file;
        YAML::Node node;
    };
    // Looks `key` up in the search files.
    std::optional<Found> find(const std::string& key);
    // "not in params.yaml, extra.yaml" / "params.yaml does not exist", for error messages.
    std::string why_missing();
    std::string why_missing_in(const std::string& file);

private:
    Reader reader_;
    std::map<std::string, File> files_;
    std::vector<std::string> search_;
};

}  // namespace mlo::core
