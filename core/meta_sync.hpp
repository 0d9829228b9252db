#pragma once

// Run and registry records that travel with push/pull (issue 8). Each run, model version and
// registry event becomes one immutable JSON record under a remote's meta/ directory, so that a
// teammate who pulls sees the same experiments, lineage and champion. The records are written
// once and never changed: a run is shared only after it finished, a version and an event
// never change, and an event's key hashes its content, so the same event exported from two
// machines has the same key.
//
//   runs/<run id>.json                      the run row (every column), its params, metrics,
//                                           tags, artifacts (lineage edges, hashes as hex) and
//                                           metric histories
//   models/<name>/<version>.json            object, size, is_dir, run_id, source_path,
//                                           created_ns, user
//   events/<name>/<time>-<hash>.json        time_ns, user, action, name, version, alias,
//                                           previous, reason, and the object of `version` (so
//                                           that "promote churn:4" cannot be taken for another
//                                           machine's churn:4); <time> is time_ns as 16 hex
//                                           digits, <hash> the first 16 hex digits of the
//                                           SHA-256 of the body. The local seq is not part of it.
//
// Bodies are deterministic JSON (keys sorted, no spaces); infinite metric values are the strings
// "inf" and "-inf". Deployments, monitor reports, retrains, the stat cache and monitor
// profiles stay local: they describe one machine.
//
// Merging (import_meta), in one transaction:
// - Runs by id: a run already here is left as it is (records are immutable).
// - Model versions by (name, version). Versions are numbered per machine, so two people who
//   registered "churn:4" offline hold different models under one number: the one here is kept,
//   never overwritten, and the conflict is reported. Events about the other churn:4 (their
//   object differs) are not recorded here; they are offered again by every pull until the
//   conflict is resolved by hand.
// - Events by identity (their key), never by seq; an event whose version is not here is not
//   recorded (a later pull that brings the version records it).
// - Every alias an imported event moves is then set by the latest move in time (time_ns; ties:
//   the larger key) among the events here and the imported ones. When both sides moved it since
//   they last agreed and they ended on different versions, the report names the alias, both
//   versions and which won. When the latest move names a version that is not here (or is
//   another model here), the alias stays where it is, reported. Aliases move without a new
//   event: the imported events are the history, and rollback replays an alias's events in
//   time order (core/registry.cpp), so it still undoes the latest move.
// A malformed record (not JSON, a field missing or of the wrong type, a body that does not match
// its key) is an Error naming its key; nothing is changed then. Keys that are not record keys
// (is_meta_key: temporary files, kinds a newer mlo writes) are ignored.

#include <cstddef>
#include <string>
#include <vector>

#include "storage/database.hpp"

namespace mlo::core {

// One immutable record under a remote's meta/ directory. `key` is relative to meta/.
struct MetaRecord {
    std::string key;
    std::string body;
};

// Keys of every record this database can share now: "runs/<run id>.json" for every run that
// has finished (not 'running'), "models/<name>/<version>.json" for every model version,
// "events/<name>/<16 hex digits time_ns>-<first 16 hex of the SHA-256 of the body>.json" for
// every registry event. Sorted. Cheap: no run bodies are built (an event's small body is, for
// its hash).
std::vector<std::string> meta_keys(Database& db);

// The bodies of these keys (as meta_keys named them), deterministic JSON, in the same order.
// Throws Error for a key that names nothing here (or a run still running).
std::vector<MetaRecord> export_meta(Database& db, const std::vector<std::string>& keys);

struct MetaMerge {
    size_t runs = 0, versions = 0, events = 0;  // added
    std::vector<std::string> conflicts;         // one line each, for people
};

// Merges records fetched from a remote, in one transaction: runs by id (present ones skipped),
// model versions by (name, version), registry events by identity; then every alias touched is
// set by the latest event in time. A malformed record is an Error naming its key; nothing
// is changed then.
MetaMerge import_meta(Database& db, const std::vector<MetaRecord>& records);

// True when `key` has the shape of a record this mlo reads (runs/, models/ or events/ as
// above); the transport can skip anything else under meta/ (temporary files, newer kinds).
bool is_meta_key(const std::string& key);

}  // namespace mlo::core
