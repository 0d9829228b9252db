#include "core/config.hpp"

#include <yaml-cpp/yaml.h>

#include "core/yaml_util.hpp"
#include "storage/error.hpp"

namespace mlo::core {

std::string Config::default_text() {
    return "# mlo repository settings (commit this file)\n"
           "core:\n"
           "  # How checkout makes workspace files from stored objects, tried in order:\n"
           "  # reflink (copy-on-write clone), hardlink (read-only), copy.\n"
           "  link: reflink,copy\n"
           "  # Worker threads for hashing and copying; 0 means one per core.\n"
           "  jobs: 0\n"
           "  # Flush new objects to disk before the pointer files that name them are written.\n"
           "  fsync: true\n";
}

namespace {

void load_remotes(Config& c, const YAML::Node& node, const fs::path& file) {
    if (node.IsNull()) return;
    expect_map(node, file, "'remotes'");
    for (const auto& kv : node) {
        RemoteSpec r;
        r.name = kv.first.as<std::string>();
        const std::string where = "remotes." + r.name;
        expect_map(kv.second, file, quote(where));
        bool is_default = false;
        for (const auto& item : kv.second) {
            std::string key = item.first.as<std::string>();
            const YAML::Node& v = item.second;
            if (key == "url")
                r.url = scalar(v, file, where + ".url");
            else if (key == "endpoint")
                r.endpoint = scalar(v, file, where + ".endpoint");
            else if (key == "region")
                r.region = scalar(v, file, where + ".region");
            else if (key == "profile")
                r.profile = scalar(v, file, where + ".profile");
            else if (key == "path_style")
                r.path_style = as_bool(v, file, where + ".path_style");
            else if (key == "default")
                is_default = as_bool(v, file, where + ".default");
            else
                yaml_fail(file, item.first, "unknown key " + quote(where + "." + key));
        }
        if (r.url.empty()) yaml_fail(file, kv.first, "remote " + quote(r.name) + " has no 'url'");
        if (is_default) {
            if (!c.default_remote.empty())
                yaml_fail(file, kv.first,
                          "remotes " + quote(c.default_remote) + " and " + quote(r.name) +
                              " are both marked default");
            c.default_remote = r.name;
        }
        c.remotes.push_back(std::move(r));
    }
}

}  // namespace

Config Config::load(const fs::path& file) {
    Config c;
    std::string text;
    if (!read_file_if_exists(file, text)) return c;
    YAML::Node root = parse_yaml(text, file);
    if (!root || root.IsNull()) return c;
    expect_map(root, file, "the configuration");
    for (const auto& kv : root) {
        std::string section = kv.first.as<std::string>();
        if (section == "remotes") {
            load_remotes(c, kv.second, file);
            continue;
        }
        if (section != "core") yaml_fail(file, kv.first, "unknown section " + quote(section));
        if (kv.second.IsNull()) continue;
        expect_map(kv.second, file, "'core'");
        for (const auto& item : kv.second) {
            std::string key = item.first.as<std::string>();
            const YAML::Node& v = item.second;
            if (key == "link") {
                std::string text_value;
                if (v.IsSequence()) {
                    for (const auto& e : v)
                        text_value +=
                            (text_value.empty() ? "" : ",") + scalar(e, file, "core.link");
                } else {
                    text_value = scalar(v, file, "core.link");
                }
                try {
                    c.link = parse_link_order(text_value);
                } catch (const Error& e) {
                    yaml_fail(file, v, e.what());
                }
            } else if (key == "jobs") {
                uint64_t jobs = as_uint(v, file, "core.jobs");
                if (jobs > 1024)
                    yaml_fail(file, v,
                              "'core.jobs' must be at most 1024, not " + std::to_string(jobs));
                c.jobs = unsigned(jobs);
            } else if (key == "fsync") {
                c.fsync = as_bool(v, file, "core.fsync");
            } else {
                yaml_fail(file, item.first, "unknown key " + quote("core." + key));
            }
        }
    }
    return c;
}

}  // namespace mlo::core
