#include "core/pipeline.hpp"

#include <algorithm>
#include <set>

#include "core/builtin.hpp"
#include "core/expr.hpp"
#include "core/params.hpp"
#include "core/registry.hpp"
#include "storage/error.hpp"
#include "storage/fs.hpp"

namespace mlo::core {

const Stage* Pipeline::find(const std::string& name) const {
    for (const auto& s : stages) {
        if (s.name == name) return &s;
    }
    return nullptr;
}

nlohmann::json Pipeline::values_for(const Stage& s) const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& p : s.params) {
        std::string name = p.file == kDefaultParamsFile ? p.key : p.file + ":" + p.key;
        nlohmann::json v;
        auto f = param_values.find(p.file);
        if (f != param_values.end()) {
            auto k = f->second.find(p.key);
            if (k != f->second.end()) v = k->second;
        }
        j[name] = v;
    }
    return j;
}

namespace {

using YAML::Node;

const std::set<std::string> kTopKeys = {"stages", "vars", "model", "deploy", "monitor", "retrain"};
const std::set<std::string> kBodyKeys = {"cmd",    "builtin", "deps", "params",
                                         "outs",   "metrics", "wdir", "always_changed",
                                         "frozen", "desc",    "role", "validate"};
const std::set<std::string> kExpandKeys = {"foreach", "matrix", "do"};

bool valid_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

bool valid_name(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), valid_name_char);
}

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

// A stage body's keys, checked against the allowed ones: name -> (key node, value node).
struct Body {
    std::map<std::string, std::pair<Node, Node>> kv;
    const std::pair<Node, Node>* get(const std::string& k) const {
        auto it = kv.find(k);
        return it == kv.end() ? nullptr : &it->second;
    }
};

// A value `${item}`, `${key}` or `${item.<name>}` stands for inside a foreach/matrix expansion.
struct Local {
    std::string name;
    Node node;
};

// One piece of a string value: literal text or a ${...} reference.
struct Piece {
    bool ref = false;
    std::string text;
};

class Parser {
public:
    Parser(std::string file, ParamFiles::Reader reader, std::string root)
        : file_(std::move(file)), params_(std::move(reader)), root_(std::move(root)) {}

    Pipeline parse(const std::string& text);

private:
    std::string file_;
    ParamFiles params_;
    std::string root_;  // absolute repository root, for absolute paths ("" = none accepted)
    Pipeline p_;
    std::map<std::string, SourcePos> names_;  // stage name -> where it comes from

    // The stage being built, for messages and the parameters it uses.
    struct Ctx {
        Stage* stage;
        const std::vector<Local>* locals;
    };

    SourcePos pos(const Node& n) const { return pos_of(file_, n); }
    [[noreturn]] void fail(const Node& n, const std::string& why) const { fail_at(pos(n), why); }

    Body check_body(const Node& body, const std::string& group,
                    const std::set<std::string>& allowed, bool allow_expand);
    void add_stage_group(const Node& key, const Node& value);
    void expand_foreach(const Node& key, const Body& outer, Stage base);
    void expand_matrix(const Body& outer, Stage base);
    void add_stage(const Body& body, Stage s, const std::vector<Local>& locals, const Node& at);

    std::vector<Piece> split_refs(const Node& at, const std::string& s, const std::string& stage);
    Node resolve(const std::string& key, const Node& at, Ctx& c);
    Node resolve_param_list(const Node& v, const std::string& what, const std::string& group);
    std::string expand(const Node& n, Ctx& c);
    nlohmann::json expand_json(const Node& n, Ctx& c);
    std::string norm_path(const std::string& raw, const std::string& base, const Node& at,
                          const std::string& stage, bool allow_root);
    void add_param(Ctx& c, const std::string& file, const std::string& key, const Node& at,
                   const Node& value);
    void parse_outs(const Node& v, const std::string& what, bool metric, Ctx& c);
    bool parse_flag(const Node& v, const std::string& what, Ctx& c);
    void parse_validate(const Node& key, const Node& v, Ctx& c);
    void check_builtin(Stage& s, const Node& key, const Node& spec);
    std::string check_model(const Node& key, const Node& v);
};

Pipeline Parser::parse(const std::string& text) {
    Node doc = load_yaml_at(text, file_);
    SourcePos start{file_, 1, 1};
    if (doc.IsNull() || !doc.IsDefined()) fail_at(start, file_ + " is empty: it needs 'stages'");
    if (!doc.IsMap()) fail(doc, "the top level of " + file_ + " must be a mapping with 'stages'");

    std::map<std::string, std::pair<Node, Node>> top;
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        std::string k = it->first.IsScalar() ? it->first.Scalar() : YAML::Dump(it->first);
        if (!kTopKeys.count(k)) fail(it->first, "unknown key " + quote(k));
        if (top.count(k)) fail(it->first, "duplicate key " + quote(k));
        top.emplace(k, std::make_pair(it->first, it->second));
    }

    // Parameter files that ${...} reads: params.yaml, then the files under `vars:`.
    std::vector<std::pair<std::string, SourcePos>> search = {{kDefaultParamsFile, SourcePos{}}};
    if (auto v = top.find("vars"); v != top.end()) {
        const Node& list = v->second.second;
        if (!list.IsSequence() && !list.IsNull())
            fail(list, "'vars' must be a list of parameter files");
        if (list.IsSequence()) {
            for (const auto& item : list) {
                if (!item.IsScalar()) fail(item, "'vars' must be a list of parameter files");
                std::string name = norm_path(item.Scalar(), "", item, "", false);
                search.emplace_back(name, pos(item));
            }
        }
    }
    params_.set_search(search);

    auto s = top.find("stages");
    if (s == top.end()) fail_at(start, file_ + " needs 'stages'");
    const Node& stages = s->second.second;
    if (!stages.IsMap() && !stages.IsNull())
        fail(stages, "'stages' must be a mapping of stage names to stages");
    if (stages.IsMap()) {
        for (auto it = stages.begin(); it != stages.end(); ++it)
            add_stage_group(it->first, it->second);
    }

    for (const char* k : {"model", "deploy", "monitor", "retrain"}) {
        auto it = top.find(k);
        if (it == top.end()) continue;
        nlohmann::json j = node_to_json(it->second.second);
        if (std::string(k) == "model") {
            j["path"] = check_model(it->second.first, it->second.second);
            p_.model = j;
        }
        if (std::string(k) == "deploy") p_.deploy = j;
        if (std::string(k) == "monitor") p_.monitor = j;
        if (std::string(k) == "retrain") p_.retrain = j;
    }
    return std::move(p_);
}

Body Parser::check_body(const Node& body, const std::string& group,
                        const std::set<std::string>& allowed, bool allow_expand) {
    Body b;
    for (auto it = body.begin(); it != body.end(); ++it) {
        std::string k = it->first.IsScalar() ? it->first.Scalar() : YAML::Dump(it->first);
        if (!allowed.count(k) && !(allow_expand && kExpandKeys.count(k)))
            fail(it->first, "unknown key " + quote(k) + " in stage " + quote(group));
        if (b.kv.count(k))
            fail(it->first, "duplicate key " + quote(k) + " in stage " + quote(group));
        b.kv.emplace(k, std::make_pair(it->first, it->second));
    }
    return b;
}

void Parser::add_stage_group(const Node& key, const Node& value) {
    if (!key.IsScalar()) fail(key, "a stage name must be a single name");
    std::string group = key.Scalar();
    if (!valid_name(group))
        fail(key,
             "invalid stage name " + quote(group) + ": use only letters, digits, '_', '.' and '-'");
    if (!value.IsMap())
        fail(value.IsNull() ? key : value, "stage " + quote(group) + " must be a mapping");
    Body outer = check_body(value, group, kBodyKeys, true);

    Stage base;
    base.name = group;
    base.group = group;
    base.pos = pos(key);

    const auto* fe = outer.get("foreach");
    const auto* mx = outer.get("matrix");
    const auto* d = outer.get("do");
    if (fe && mx) fail(mx->first, "stage " + quote(group) + " has both 'foreach' and 'matrix'");
    if (fe) return expand_foreach(key, outer, base);
    if (mx) return expand_matrix(outer, base);
    if (d) fail(d->first, "'do' of stage " + quote(group) + " needs 'foreach' or 'matrix'");
    add_stage(outer, base, {}, key);
}

// A `foreach`/`matrix` list given as "${some.param}": the parameter's node.
Node Parser::resolve_param_list(const Node& v, const std::string& what, const std::string& group) {
    std::vector<Piece> pieces = split_refs(v, v.Scalar(), group);
    if (pieces.size() != 1 || !pieces[0].ref)
        fail(v, what + " of stage " + quote(group) + " must be a list, a mapping or '${param}'");
    auto f = params_.find(pieces[0].text);
    if (!f)
        fail(v, "undefined parameter " + quote("${" + pieces[0].text + "}") + " in stage " +
                    quote(group) + " (" + params_.why_missing() + ")");
    return f->node;
}

void Parser::expand_foreach(const Node& key, const Body& outer, Stage base) {
    const std::string& group = base.group;
    const auto& [fk, fv] = *outer.get("foreach");
    const auto* d = outer.get("do");
    for (const auto& [k, kv] : outer.kv) {
        if (k != "foreach" && k != "do")
            fail(kv.first, "stage " + quote(group) + " with 'foreach' takes only 'do' (" +
                               quote(k) + " belongs under 'do')");
    }
    if (!d) fail(key, "stage " + quote(group) + " with 'foreach' needs 'do'");
    if (!d->second.IsMap())
        fail(d->second.IsNull() ? d->first : d->second,
             "'do' of stage " + quote(group) + " must be a mapping");
    Body body = check_body(d->second, group, kBodyKeys, false);

    Node list = fv;
    bool from_params = false;
    if (fv.IsScalar()) {
        list.reset(resolve_param_list(fv, "'foreach'", group));
        from_params = true;
    }
    auto at = [&](const Node& n) -> const Node& { return from_params ? fv : n; };
    if (list.IsSequence()) {
        if (list.size() == 0) fail(fv, "'foreach' of stage " + quote(group) + " is empty");
        bool all_scalar = true;
        for (const auto& item : list)
            all_scalar = all_scalar && item.IsScalar();
        size_t i = 0;
        for (const auto& item : list) {
            Stage s = base;
            s.name = group + "@" + (all_scalar ? item.Scalar() : std::to_string(i));
            add_stage(body, s, {Local{"item", item}}, at(item));
            ++i;
        }
    } else if (list.IsMap()) {
        if (list.size() == 0) fail(fv, "'foreach' of stage " + quote(group) + " is empty");
        for (auto it = list.begin(); it != list.end(); ++it) {
            if (!it->first.IsScalar())
                fail(at(it->first),
                     "the keys of 'foreach' in stage " + quote(group) + " must be single values");
            Stage s = base;
            s.name = group + "@" + it->first.Scalar();
            add_stage(body, s, {Local{"key", it->first}, Local{"item", it->second}}, at(it->first));
        }
    } else {
        fail(fv, "'foreach' of stage " + quote(group) + " must be a list, a mapping or '${param}'");
    }
}

void Parser::expand_matrix(const Body& outer, Stage base) {
    const std::string& group = base.group;
    const auto& [mk, mv] = *outer.get("matrix");
    Body body;
    if (const auto* d = outer.get("do")) {
        for (const auto& [k, kv] : outer.kv) {
            if (k != "matrix" && k != "do")
                fail(kv.first, "stage " + quote(group) + " with 'matrix' and 'do' takes no " +
                                   quote(k) + " (it belongs under 'do')");
        }
        if (!d->second.IsMap())
            fail(d->second.IsNull() ? d->first : d->second,
                 "'do' of stage " + quote(group) + " must be a mapping");
        body = check_body(d->second, group, kBodyKeys, false);
    } else {
        body = outer;
        body.kv.erase("matrix");
    }
    if (!mv.IsMap() || mv.size() == 0)
        fail(mv.IsNull() ? mk : mv, "'matrix' of stage " + quote(group) +
                                        " must be a mapping of names to lists of values");

    struct Dim {
        std::string name;
        std::vector<Node> values;
        Node at;  // for errors about the values, when they come from a parameter
        bool from_params = false;
    };
    std::vector<Dim> dims;
    for (auto it = mv.begin(); it != mv.end(); ++it) {
        if (!it->first.IsScalar() || !valid_name(it->first.Scalar()))
            fail(it->first, "a name in 'matrix' of stage " + quote(group) +
                                " must be a single name of letters, digits, '_', '.' and '-'");
        Dim dim;
        dim.name = it->first.Scalar();
        Node values = it->second;
        bool from_params = false;
        if (values.IsScalar()) {
            values.reset(resolve_param_list(values, "'matrix." + dim.name + "'", group));
            from_params = true;
        }
        if (!values.IsSequence())
            fail(
                it->second.IsNull() ? it->first : it->second,
                "'matrix." + dim.name + "' of stage " + quote(group) + " must be a list of values");
        if (values.size() == 0)
            fail(it->second, "'matrix." + dim.name + "' of stage " + quote(group) + " is empty");
        for (const auto& v : values) {
            if (!v.IsScalar())
                fail(from_params ? it->second : v, "values of 'matrix." + dim.name + "' in stage " +
                                                       quote(group) + " must be single values");
            dim.values.push_back(v);
        }
        dim.at = it->second;
        dim.from_params = from_params;
        dims.push_back(std::move(dim));
    }

    // The cartesian product, first name outermost.
    std::vector<size_t> idx(dims.size(), 0);
    while (true) {
        Stage s = base;
        std::vector<Local> locals;
        std::string suffix;
        for (size_t d = 0; d < dims.size(); ++d) {
            const Node& v = dims[d].values[idx[d]];
            locals.push_back(Local{"item." + dims[d].name, v});
            suffix += (d ? "-" : "") + v.Scalar();
        }
        s.name = group + "@" + suffix;
        const Node& last = dims.back().values[idx.back()];
        add_stage(body, s, locals, dims.back().from_params ? dims.back().at : last);
        size_t d = dims.size();
        while (d > 0) {
            --d;
            if (++idx[d] < dims[d].values.size()) break;
            idx[d] = 0;
            if (d == 0) return;
        }
    }
}

std::vector<Piece> Parser::split_refs(const Node& at, const std::string& s,
                                      const std::string& stage) {
    std::vector<Piece> out;
    std::string lit;
    size_t i = 0;
    while (i < s.size()) {
        if (s.compare(i, 3, "$${") == 0) {
            lit += "${";
            i += 3;
            continue;
        }
        if (s.compare(i, 2, "${") == 0) {
            size_t j = s.find('}', i + 2);
            std::string where = stage.empty() ? "" : " in stage " + quote(stage);
            if (j == std::string::npos)
                fail(at, "unterminated '${' in " + quote(s) + where +
                             " (write '$${' for a literal '${')");
            std::string key = trim(s.substr(i + 2, j - i - 2));
            if (key.empty()) fail(at, "empty '${}' in " + quote(s) + where);
            if (!lit.empty()) out.push_back(Piece{false, lit});
            lit.clear();
            out.push_back(Piece{true, key});
            i = j + 1;
            continue;
        }
        lit += s[i++];
    }
    if (!lit.empty() || out.empty()) out.push_back(Piece{false, lit});
    return out;
}

void Parser::add_param(Ctx& c, const std::string& file, const std::string& key, const Node& at,
                       const Node& value) {
    ParamRef r;
    r.file = file;
    r.key = key;
    r.pos = pos(at);
    c.stage->params.push_back(r);
    p_.param_values[file][key] = node_to_json(value);
}

Node Parser::resolve(const std::string& key, const Node& at, Ctx& c) {
    std::string first = key.substr(0, key.find('.'));
    bool shadowed = false;
    for (const auto& l : *c.locals) {
        if (key == l.name) return l.node;
        if (key.compare(0, l.name.size() + 1, l.name + ".") == 0) {
            if (auto n = lookup_key(l.node, key.substr(l.name.size() + 1))) return *n;
        }
        if (l.name.substr(0, l.name.find('.')) == first) shadowed = true;
    }
    if (shadowed)
        fail(at, "undefined " + quote("${" + key + "}") + " in stage " + quote(c.stage->name) +
                     " (no such field in the current " +
                     (c.locals->front().name == "item" || c.locals->front().name == "key"
                          ? "'foreach' item)"
                          : "'matrix' entry)"));
    auto f = params_.find(key);
    if (!f)
        fail(at, "undefined parameter " + quote("${" + key + "}") + " in stage " +
                     quote(c.stage->name) + " (" + params_.why_missing() + ")");
    add_param(c, f->file, key, at, f->node);
    return f->node;
}

std::string Parser::expand(const Node& n, Ctx& c) {
    if (n.IsNull()) return "";
    std::string out;
    for (const auto& piece : split_refs(n, n.Scalar(), c.stage->name)) {
        if (!piece.ref) {
            out += piece.text;
            continue;
        }
        Node v = resolve(piece.text, n, c);
        if (!v.IsScalar() && !v.IsNull())
            fail(n, quote("${" + piece.text + "}") + " in stage " + quote(c.stage->name) +
                        " is a " + (v.IsMap() ? "mapping" : "list") + ", not a single value");
        out += scalar_text(v);
    }
    return out;
}

nlohmann::json Parser::expand_json(const Node& n, Ctx& c) {
    if (n.IsMap()) {
        nlohmann::json j = nlohmann::json::object();
        for (auto it = n.begin(); it != n.end(); ++it) {
            std::string k = it->first.IsScalar() ? it->first.Scalar() : YAML::Dump(it->first);
            j[k] = expand_json(it->second, c);
        }
        return j;
    }
    if (n.IsSequence()) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& e : n)
            j.push_back(expand_json(e, c));
        return j;
    }
    if (!n.IsScalar()) return nullptr;
    std::vector<Piece> pieces = split_refs(n, n.Scalar(), c.stage->name);
    if (pieces.size() == 1 && pieces[0].ref) return node_to_json(resolve(pieces[0].text, n, c));
    if (pieces.size() == 1 && pieces[0].text == n.Scalar()) return scalar_node_to_json(n);
    return expand(n, c);
}

std::string Parser::norm_path(const std::string& raw, const std::string& base, const Node& at,
                              const std::string& stage, bool allow_root) {
    std::string of = stage.empty() ? "" : " of stage " + quote(stage);
    if (raw.empty()) fail(at, "empty path" + of);
    std::vector<std::string> parts;
    std::string rest = raw;
    if (raw[0] == '/') {
        if (root_.empty() || !(raw == root_ || raw.compare(0, root_.size() + 1, root_ + "/") == 0))
            fail(at, "path " + quote(raw) + of + " is outside the repository");
        rest = raw.substr(root_.size());
    } else {
        size_t start = 0;
        while (start <= base.size() && !base.empty()) {
            size_t slash = base.find('/', start);
            if (slash == std::string::npos) slash = base.size();
            parts.push_back(base.substr(start, slash - start));
            start = slash + 1;
        }
    }
    size_t start = 0;
    while (start <= rest.size()) {
        size_t slash = rest.find('/', start);
        if (slash == std::string::npos) slash = rest.size();
        std::string seg = rest.substr(start, slash - start);
        start = slash + 1;
        if (seg.empty() || seg == ".") continue;
        if (seg == "..") {
            if (parts.empty()) fail(at, "path " + quote(raw) + of + " is outside the repository");
            parts.pop_back();
            continue;
        }
        parts.push_back(seg);
    }
    if (parts.empty() && !allow_root)
        fail(at, "path " + quote(raw) + of + " is the repository root");
    if (!parts.empty() && parts[0] == kDotMlo)
        fail(at, "path " + quote(raw) + of + " is inside .mlo/, which mlo manages");
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : "/") + p;
    return out;
}

bool Parser::parse_flag(const Node& v, const std::string& what, Ctx& c) {
    std::string why = quote(what) + " of stage " + quote(c.stage->name) + " must be true or false";
    if (!v.IsScalar()) fail(v, why);
    auto b = parse_bool(expand(v, c));
    if (!b) fail(v, why);
    return *b;
}

void Parser::parse_outs(const Node& v, const std::string& what, bool metric, Ctx& c) {
    Stage& s = *c.stage;
    std::string why = quote(what) + " of stage " + quote(s.name) +
                      " must be a list of paths or {path: {persist: .., cache: ..}} mappings";
    if (v.IsNull()) return;
    if (!v.IsSequence()) fail(v, why);
    for (const auto& item : v) {
        OutSpec o;
        o.metric = metric;
        if (item.IsScalar()) {
            o.path = norm_path(expand(item, c), s.wdir, item, s.name, false);
            o.pos = pos(item);
        } else if (item.IsMap() && item.size() == 1) {
            auto it = item.begin();
            const Node pk = it->first;
            const Node opts = it->second;
            if (!pk.IsScalar()) fail(pk, why);
            o.path = norm_path(expand(pk, c), s.wdir, pk, s.name, false);
            o.pos = pos(pk);
            if (!opts.IsNull()) {
                if (!opts.IsMap())
                    fail(opts, "the options of " + quote(pk.Scalar()) + " in stage " +
                                   quote(s.name) + " must be a mapping");
                for (auto o_it = opts.begin(); o_it != opts.end(); ++o_it) {
                    std::string k = o_it->first.IsScalar() ? o_it->first.Scalar() : "?";
                    if (k == "persist") {
                        o.persist = parse_flag(o_it->second, "persist", c);
                    } else if (k == "cache") {
                        o.cache = parse_flag(o_it->second, "cache", c);
                    } else {
                        fail(o_it->first, "unknown key " + quote(k) + " for " + quote(pk.Scalar()) +
                                              " in stage " + quote(s.name) +
                                              " (use 'persist' or 'cache')");
                    }
                }
            }
        } else {
            fail(item, why);
        }
        s.outs.push_back(o);
    }
}

// validate: {data: PATH, schema: PATH}, or a list of such mappings.
void Parser::parse_validate(const Node& key, const Node& v, Ctx& c) {
    Stage& s = *c.stage;
    const std::string why = "'validate' of stage " + quote(s.name) +
                            " must be a mapping {data: PATH, schema: PATH} or a list of them";
    std::vector<Node> items;
    if (v.IsMap()) {
        items.push_back(v);
    } else if (v.IsSequence() && v.size() > 0) {
        for (const auto& item : v)
            items.push_back(item);
    } else {
        fail(v.IsNull() ? key : v, why);
    }
    for (const Node& item : items) {
        if (!item.IsMap()) fail(item, why);
        ValidateSpec spec;
        spec.pos = pos(item);
        std::optional<Node> data, schema;
        for (auto it = item.begin(); it != item.end(); ++it) {
            std::string k = it->first.IsScalar() ? it->first.Scalar() : YAML::Dump(it->first);
            const Node val = it->second;
            if (k != "data" && k != "schema")
                fail(it->first, "unknown key " + quote(k) + " in 'validate' of stage " +
                                    quote(s.name) + " (use 'data' and 'schema')");
            if (!val.IsScalar())
                fail(val.IsDefined() && !val.IsNull() ? val : it->first,
                     "'validate." + k + "' of stage " + quote(s.name) + " must be a path");
            std::optional<Node>& slot = k == "data" ? data : schema;
            if (slot)
                fail(it->first,
                     "duplicate key " + quote(k) + " in 'validate' of stage " + quote(s.name));
            slot = val;
        }
        if (!data || !schema)
            fail(item,
                 "'validate' of stage " + quote(s.name) + " needs " +
                     (data ? "'schema' (the schema file)" : "'data' (the CSV file to check)"));
        spec.data = norm_path(expand(*data, c), s.wdir, *data, s.name, false);
        spec.schema = norm_path(expand(*schema, c), s.wdir, *schema, s.name, false);
        // Changing the data or the schema runs the stage again, like any dependency.
        for (const auto& [path, at] :
             {std::pair{spec.data, *data}, std::pair{spec.schema, *schema}}) {
            bool listed = std::any_of(s.deps.begin(), s.deps.end(),
                                      [&](const DepSpec& d) { return d.path == path; });
            if (!listed) s.deps.push_back(DepSpec{path, pos(at)});
        }
        s.validate.push_back(std::move(spec));
    }
}

void Parser::add_stage(const Body& body, Stage s, const std::vector<Local>& locals,
                       const Node& at) {
    if (!valid_name(s.name.substr(s.name.find('@') + 1)))
        fail(at, "stage name " + quote(s.name) +
                     " is not valid: expanded names use only letters, digits, '_', '.' and '-'");
    if (auto n = names_.find(s.name); n != names_.end())
        fail(at, "duplicate stage name " + quote(s.name) + " (first at " + n->second.str() + ")");
    names_.emplace(s.name, pos(at));

    Ctx c{&s, &locals};
    const std::string& name = s.name;
    auto must_scalar = [&](const std::pair<Node, Node>& kv, const std::string& k) {
        if (!kv.second.IsScalar())
            fail(kv.second.IsDefined() && !kv.second.IsNull() ? kv.second : kv.first,
                 quote(k) + " of stage " + quote(name) + " must be a single value");
    };

    if (const auto* w = body.get("wdir")) {
        if (!w->second.IsNull()) {
            must_scalar(*w, "wdir");
            s.wdir = norm_path(expand(w->second, c), "", w->second, name, true);
        }
    }

    const auto* cmd = body.get("cmd");
    const auto* builtin = body.get("builtin");
    if (cmd && builtin)
        fail(builtin->first, "stage " + quote(name) + " has both 'cmd' and 'builtin'");
    if (!cmd && !builtin) fail(at, "stage " + quote(name) + " needs 'cmd' or 'builtin'");
    if (cmd) {
        const Node v = cmd->second;
        std::string why =
            "'cmd' of stage " + quote(name) + " must be a string or a list of strings";
        if (v.IsScalar()) {
            s.cmd = expand(v, c);
        } else if (v.IsSequence() && v.size() > 0) {
            for (const auto& part : v) {
                if (!part.IsScalar()) fail(part, why);
                s.cmd += (s.cmd.empty() ? "" : " && ") + expand(part, c);
            }
        } else {
            fail(v.IsNull() ? cmd->first : v, why);
        }
        if (trim(s.cmd).empty())
            fail(v.IsNull() ? cmd->first : v, "'cmd' of stage " + quote(name) + " is empty");
    } else {
        const Node v = builtin->second;
        if (!v.IsMap())
            fail(v.IsNull() ? builtin->first : v,
                 "'builtin' of stage " + quote(name) + " must be a mapping");
        s.builtin = expand_json(v, c);
    }

    if (const auto* d = body.get("deps")) {
        const Node v = d->second;
        std::string why = "'deps' of stage " + quote(name) + " must be a list of paths";
        if (!v.IsNull() && !v.IsSequence()) fail(v, why);
        if (v.IsSequence()) {
            for (const auto& item : v) {
                if (!item.IsScalar()) fail(item, why);
                DepSpec dep;
                dep.path = norm_path(expand(item, c), s.wdir, item, name, false);
                dep.pos = pos(item);
                s.deps.push_back(dep);
            }
        }
    }

    if (const auto* p = body.get("params")) {
        const Node v = p->second;
        std::string why = "'params' of stage " + quote(name) +
                          " must be a list of parameter names or {file: [names]} mappings";
        if (!v.IsNull() && !v.IsSequence()) fail(v, why);
        if (v.IsSequence()) {
            for (const auto& item : v) {
                if (item.IsScalar()) {
                    std::string key = trim(expand(item, c));
                    if (key.empty()) fail(item, why);
                    auto f = params_.find(key);
                    if (!f)
                        fail(item, "undefined parameter " + quote(key) + " in stage " +
                                       quote(name) + " (" + params_.why_missing() + ")");
                    add_param(c, f->file, key, item, f->node);
                } else if (item.IsMap()) {
                    for (auto it = item.begin(); it != item.end(); ++it) {
                        if (!it->first.IsScalar()) fail(it->first, why);
                        std::string file =
                            norm_path(expand(it->first, c), "", it->first, name, false);
                        const Node keys = it->second;
                        if (!keys.IsSequence()) {
                            if (keys.IsNull()) fail(it->first, why);
                            fail(keys, why);
                        }
                        const ParamFiles::File& pf = params_.get(file);
                        for (const auto& k : keys) {
                            if (!k.IsScalar()) fail(k, why);
                            std::string key = trim(expand(k, c));
                            std::optional<Node> n;
                            if (pf.exists) n = lookup_key(pf.root, key);
                            if (!n)
                                fail(k, "undefined parameter " + quote(key) + " in stage " +
                                            quote(name) + " (" + params_.why_missing_in(file) +
                                            ")");
                            add_param(c, file, key, k, *n);
                        }
                    }
                } else {
                    fail(item, why);
                }
            }
        }
    }

    if (const auto* v = body.get("validate")) parse_validate(v->first, v->second, c);
    if (const auto* o = body.get("outs")) parse_outs(o->second, "outs", false, c);
    if (const auto* m = body.get("metrics")) parse_outs(m->second, "metrics", true, c);
    if (const auto* f = body.get("always_changed"))
        s.always_changed = parse_flag(f->second, "always_changed", c);
    if (const auto* f = body.get("frozen")) s.frozen = parse_flag(f->second, "frozen", c);
    if (const auto* d = body.get("desc")) {
        if (!d->second.IsNull()) {
            must_scalar(*d, "desc");
            s.desc = expand(d->second, c);
        }
    }
    if (const auto* r = body.get("role")) {
        must_scalar(*r, "role");
        s.role = expand(r->second, c);
        if (s.role != "train" && s.role != "evaluate")
            fail(r->second, "'role' of stage " + quote(name) +
                                " must be 'train' or 'evaluate', not " + quote(s.role));
    }

    if (builtin) check_builtin(s, builtin->first, builtin->second);

    std::stable_sort(s.params.begin(), s.params.end(), [](const ParamRef& a, const ParamRef& b) {
        return std::tie(a.file, a.key) < std::tie(b.file, b.key);
    });
    s.params.erase(std::unique(s.params.begin(), s.params.end(),
                               [](const ParamRef& a, const ParamRef& b) {
                                   return a.file == b.file && a.key == b.key;
                               }),
                   s.params.end());
    p_.stages.push_back(std::move(s));
}

}  // namespace

// model: {name: churn, path: models/churn.json, gate: "accuracy >= 0.8", alias: champion}
std::string Parser::check_model(const Node& key, const Node& v) {
    if (!v.IsMap()) fail(v.IsNull() ? key : v, "'model' must be a mapping with 'name' and 'path'");
    bool has_name = false, has_path = false;
    std::string path;
    for (auto it = v.begin(); it != v.end(); ++it) {
        std::string k = it->first.IsScalar() ? it->first.Scalar() : YAML::Dump(it->first);
        const Node val = it->second;
        if (k != "name" && k != "path" && k != "gate" && k != "alias")
            fail(it->first,
                 "unknown key " + quote(k) + " in 'model' (use name, path, gate, alias)");
        if (!val.IsScalar() || val.Scalar().empty())
            fail(val.IsDefined() && !val.IsNull() ? val : it->first,
                 "'model." + k + "' must be a non-empty string");
        const std::string text = val.Scalar();
        if (k == "name") {
            has_name = true;
            if (!valid_model_name(text))
                fail(val, "'model.name' " + quote(text) +
                              " is not a valid model name (letters, digits, '_', '.', '-'; at "
                              "most 64)");
        } else if (k == "path") {
            has_path = true;
            path = norm_path(text, "", val, "", false);
        } else if (k == "alias") {
            if (!valid_alias(text))
                fail(val, "'model.alias' " + quote(text) + " is not a valid alias");
        } else if (k == "gate") {
            try {
                Expression::parse(text, "gate");
            } catch (const Error& e) {
                fail(val, std::string("invalid 'model.gate': ") + e.what());
            }
        }
    }
    if (!has_name) fail(key, "'model' needs 'name' (the registered model's name)");
    if (!has_path) fail(key, "'model' needs 'path' (the model file the pipeline writes)");
    return path;
}

// A built-in stage: its mapping is valid, its inputs are dependencies, and it has the one
// output it writes (core/builtin.hpp).
void Parser::check_builtin(Stage& s, const Node& key, const Node& spec) {
    const std::string& name = s.name;
    auto node_of = [&](const std::string& k, bool want_value) -> Node {
        for (auto it = spec.begin(); it != spec.end(); ++it)
            if (it->first.IsScalar() && it->first.Scalar() == k)
                return want_value ? it->second : it->first;
        return key;
    };
    if (auto problem = check_builtin_spec(s.builtin)) {
        const auto& [k, why] = *problem;
        bool unknown_key = why.rfind("unknown key", 0) == 0;
        fail(k.empty() ? key : node_of(k, !unknown_key),
             "'builtin' of stage " + quote(name) + ": " + why);
    }
    for (const char* k : {"data", "evaluate"}) {
        if (!s.builtin.contains(k)) continue;
        Node at = node_of(k, true);
        DepSpec dep;
        dep.path = norm_path(s.builtin[k].get<std::string>(), s.wdir, at, name, false);
        dep.pos = pos(at);
        bool listed = std::any_of(s.deps.begin(), s.deps.end(),
                                  [&](const DepSpec& d) { return d.path == dep.path; });
        if (!listed) s.deps.push_back(dep);
    }
    size_t outs = 0, metrics = 0;
    for (const auto& o : s.outs)
        (o.metric ? metrics : outs)++;
    if (is_learner_spec(s.builtin)) {
        if (outs != 1)
            fail(key, "built-in learner stage " + quote(name) +
                          " needs exactly one entry under 'outs' (the model file it writes), not " +
                          std::to_string(outs));
    } else {
        if (metrics != 1 || outs != 0)
            fail(key, "built-in evaluation stage " + quote(name) +
                          " needs exactly one entry under 'metrics' (the file it writes) and "
                          "nothing under 'outs'");
    }
}

Pipeline parse_pipeline(const std::string& text, const std::map<std::string, std::string>& params,
                        const std::string& file) {
    auto reader = [&params](const std::string& name) -> std::optional<std::string> {
        auto it = params.find(name);
        if (it == params.end()) return std::nullopt;
        return it->second;
    };
    return Parser(file, reader, "").parse(text);
}

Pipeline load_pipeline(const Repository& repo) {
    const fs::path root = repo.root();
    std::string text;
    if (!read_file_if_exists(root / kPipelineFile, text))
        throw Error("no " + std::string(kPipelineFile) + " in " + quote(root) +
                    ": write one to define the pipeline's stages (see DESIGN.md, 'mlo.yaml')");
    auto reader = [&root](const std::string& name) -> std::optional<std::string> {
        std::string t;
        if (!read_file_if_exists(root / name, t)) return std::nullopt;
        return t;
    };
    std::string abs_root = generic(root.lexically_normal());
    while (abs_root.size() > 1 && abs_root.back() == '/')
        abs_root.pop_back();
    return Parser(kPipelineFile, reader, abs_root).parse(text);
}

}  // namespace mlo::core
