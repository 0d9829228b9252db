#!/usr/bin/env bash
# Versioning data: add, status, diff, checkout, ls, gc and fsck on a realistic tree (nested
# directories, binary files, an empty file, spaces and other odd characters in names,
# executable files, a file past the in-memory size limit), checked against sha256sum and
# byte-for-byte copies.
source "$(dirname "$0")/lib.bash"
require_tools python3 sha256sum cp diff

# Creates data/ with a mix of everything a dataset directory holds.
make_data() {
    mkdir -p data/nested/deep/dir "data/with space" data/bin data/empty-dir-sibling
    printf 'id,label\n1,cat\n2,dog\n' >data/train.csv
    make_bytes data/nested/deep/dir/blob.bin 100000 blob
    make_bytes data/nested/large.bin $((5 * 1024 * 1024 + 7)) large # past the 4 MiB small-file path
    : >data/empty
    printf 'spaces in the name\n' >"data/with space/file name.txt"
    printf 'unicode\n' >"data/with space/données ünïcode.txt"
    printf 'leading dash\n' >data/-dash
    printf 'hidden\n' >data/.hidden
    printf '#!/bin/sh\necho run\n' >data/bin/run.sh
    chmod 0755 data/bin/run.sh
    make_bytes data/bin/tool 4096 tool
    chmod 0700 data/bin/tool
    printf 'id,label\n1,cat\n2,dog\n' >data/empty-dir-sibling/dup.csv # same bytes as train.csv
    printf 'x' >data/nested/x
}

# assert_same_tree A B: same files, same bytes, same executable bits.
assert_same_tree() {
    local a b
    a=$(tree_listing "$1") || fail "cannot list $1"
    b=$(tree_listing "$2") || fail "cannot list $2"
    if [ "$a" != "$b" ]; then
        echo "    trees differ (- $1, + $2):" >&2
        diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") | grep '^[<>]' | head -n 20 >&2
        fail "'$2' is not identical to '$1'"
    fi
}

# The changes `status --json` reports, one "status path" a line, sorted.
status_changes() {
    expect_exit "${1:-0}" -- mlo --json status ${2:+"$2"}
    json_get 'sorted(c["status"] + " " + c["path"] for t in j["tracked"] for c in t["changes"])'
}

# A repository with data/ added and a pristine copy in $TEST_DIR/orig.
added_repo() {
    new_repo
    make_data
    cp -a data "$TEST_DIR/orig"
    ok mlo add data/
}

test_add_stores_objects_named_by_their_sha256() {
    added_repo
    assert_contains "$(stdout)" "added data"
    # Every object's bytes hash to its name (shard directory + file name), and it is read-only.
    local n=0 f name
    while IFS= read -r f; do
        name=${f#.mlo/objects/}
        name=${name/\//}
        assert_matches "$name" '^[0-9a-f]{64}$' "object name of $f"
        assert_eq "$name" "$(sha256_of "$f")" "sha256 of $f"
        assert_eq 444 "$(mode_of "$f")" "mode of $f"
        n=$((n + 1))
    done < <(find .mlo/objects -type f | sort)
    # One object per distinct content (train.csv and dup.csv share one) plus the manifest.
    local distinct
    distinct=$(find "$TEST_DIR/orig" -type f -exec sha256sum {} + | cut -d' ' -f1 | sort -u | wc -l)
    assert_eq $((distinct + 1)) "$n" "number of objects"
    # Every workspace file's content is in the store.
    while IFS= read -r f; do
        assert_file_exists "$(object_path "$(sha256_of "$f")")"
    done < <(find data -type f)
    # The pointer file.
    assert_file_exists data.mlo
    assert_eq data "$(pointer_field data.mlo path)" "path in data.mlo"
    assert_eq dir "$(pointer_field data.mlo kind)" "kind in data.mlo"
    assert_eq "$(find data -type f | wc -l)" "$(pointer_field data.mlo files)" "files in data.mlo"
    local total
    total=$(find data -type f -printf '%s\n' | awk '{s += $1} END {print s}')
    assert_eq "$total" "$(pointer_field data.mlo size)" "size in data.mlo"
    local h
    h=$(pointer_field data.mlo hash)
    assert_matches "$h" '^sha256:[0-9a-f]{64}$' "hash in data.mlo"
    assert_file_exists "$(object_path "${h#sha256:}")"
    # Only the expected keys.
    assert_eq "files hash kind path size" "$(sed 's/:.*//' data.mlo | sort | tr '\n' ' ' | sed 's/ $//')" \
        "keys of data.mlo"
    assert_eq "" "$(temp_objects)" "temporary files in .mlo/objects"
    # The workspace itself is untouched by add.
    assert_same_tree "$TEST_DIR/orig" data
}

test_checkout_restores_every_byte_and_executable_bit() {
    added_repo
    rm -rf data
    ok mlo checkout
    assert_same_tree "$TEST_DIR/orig" data
    assert_eq 0 "$(size_of data/empty)" "size of data/empty"
    [ -x data/bin/run.sh ] || fail "data/bin/run.sh lost its executable bit"
    [ -x data/bin/tool ] || fail "data/bin/tool lost its executable bit"
    [ -x data/train.csv ] && fail "data/train.csv became executable"
    expect_exit 0 -- mlo status --exit-code
    # A second checkout has nothing to do and changes nothing.
    take_snapshot restored
    ok mlo --json checkout
    assert_eq 0 "$(json_get 'len(j["restored"])')" "files restored by a second checkout"
    assert_unchanged restored
    # Deleting only some files restores only those.
    rm data/nested/large.bin "data/with space/file name.txt"
    ok mlo --json checkout
    assert_eq "data/nested/large.bin|data/with space/file name.txt" \
        "$(json_get 'sorted(j["restored"])' | paste -sd'|')" "restored files"
    assert_same_tree "$TEST_DIR/orig" data
}

test_status_lists_exactly_the_changed_file() {
    added_repo
    expect_exit 0 -- mlo status --exit-code
    assert_contains "$(stdout)" "nothing changed"
    assert_eq "" "$(status_changes)" "changes in a clean workspace"
    # Same size, different bytes.
    printf 'id,label\n1,cat\n2,cow\n' >data/train.csv
    assert_eq "modified data/train.csv" "$(status_changes)" "changes"
    expect_exit 1 -- mlo status --exit-code
    assert_eq 1 "$(wc -l <"$OUT")" "lines of 'status' output"
    assert_matches "$(stdout)" '^modified: +data/train\.csv$' "status output"
    # Without --exit-code a dirty workspace still exits 0.
    expect_exit 0 -- mlo status
    # Back to the original bytes: clean again.
    cp "$TEST_DIR/orig/train.csv" data/train.csv
    expect_exit 0 -- mlo status --exit-code
    assert_eq "" "$(status_changes)" "changes after undoing the edit"
}

test_status_sees_a_change_that_keeps_size_and_mtime() {
    added_repo
    # Rewrite a file in place with the same size and put its mtime back: only the content
    # (and ctime) differ. The stat cache must not hide this.
    local f=data/nested/deep/dir/blob.bin
    cp -p "$f" "$TEST_DIR/blob.ref"
    python3 - "$f" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(5000)
    b = f.read(1)
    f.seek(5000)
    f.write(bytes([b[0] ^ 0xff]))
EOF
    touch -r "$TEST_DIR/blob.ref" "$f"
    assert_eq "modified $f" "$(status_changes)" "changes"
    expect_exit 1 -- mlo status --exit-code
    # Touching files without changing them is not a change.
    cp "$TEST_DIR/orig/nested/deep/dir/blob.bin" "$f"
    find data -type f -exec touch {} +
    expect_exit 0 -- mlo status --exit-code
    assert_eq "" "$(status_changes)" "changes after touch"
}

test_status_shows_added_deleted_and_mode_changes() {
    added_repo
    printf 'new\n' >data/nested/new.txt
    rm "data/with space/file name.txt"
    chmod +x data/train.csv
    assert_eq "added data/nested/new.txt
deleted data/with space/file name.txt
modified data/train.csv" "$(status_changes)" "changes"
    expect_exit 1 -- mlo status --exit-code
    assert_eq 3 "$(wc -l <"$OUT")" "lines of 'status' output"
    assert_matches "$(stdout)" '^added: +data/nested/new\.txt$' "status output"
    assert_matches "$(stdout)" '^deleted: +data/with space/file name\.txt$' "status output"
    assert_matches "$(stdout)" '^modified: +data/train\.csv$' "status output"
    # A path limits the report.
    assert_eq "added data/nested/new.txt" "$(status_changes 0 data/nested)" "changes under data/nested"
    expect_exit 0 -- mlo status --exit-code data/bin
    expect_exit 1 -- mlo status --exit-code data/train.csv
}

test_diff_json_reports_hashes_and_sizes() {
    added_repo
    expect_exit 0 -- mlo diff
    assert_contains "$(stdout)" "no differences"
    printf 'id,label\n1,cat\n2,dog\n3,emu\n' >data/train.csv
    printf 'brand new\n' >data/added.txt
    rm data/nested/x
    ok mlo diff --json
    assert_stdout_json
    assert_eq "data/train.csv" "$(json_get '[m["path"] for m in j["modified"]]')" "modified"
    assert_eq "sha256:$(sha256_of "$TEST_DIR/orig/train.csv")" "$(json_get 'j["modified"][0]["old"]["hash"]')" "old hash"
    assert_eq "$(size_of "$TEST_DIR/orig/train.csv")" "$(json_get 'j["modified"][0]["old"]["size"]')" "old size"
    assert_eq "sha256:$(sha256_of data/train.csv)" "$(json_get 'j["modified"][0]["new"]["hash"]')" "new hash"
    assert_eq "$(size_of data/train.csv)" "$(json_get 'j["modified"][0]["new"]["size"]')" "new size"
    assert_eq "data/added.txt" "$(json_get '[m["path"] for m in j["added"]]')" "added"
    assert_eq "sha256:$(sha256_of data/added.txt)" "$(json_get 'j["added"][0]["hash"]')" "added hash"
    assert_eq "$(size_of data/added.txt)" "$(json_get 'j["added"][0]["size"]')" "added size"
    assert_eq "data/nested/x" "$(json_get '[m["path"] for m in j["deleted"]]')" "deleted"
    assert_eq "sha256:$(sha256_of "$TEST_DIR/orig/nested/x")" "$(json_get 'j["deleted"][0]["hash"]')" "deleted hash"
    assert_eq 1 "$(json_get 'j["deleted"][0]["size"]')" "deleted size"
    # diff reports, it does not store: the new content is not in the store.
    assert_no_file "$(object_path "$(sha256_of data/added.txt)")"
    # The human form names the same three paths.
    ok mlo diff
    assert_eq 3 "$(wc -l <"$OUT")" "lines of 'diff' output"
    assert_matches "$(stdout)" '^modified +data/train\.csv' "diff output"
    # A modified single-file pointer.
    printf 'v1' >model.bin
    ok mlo add model.bin
    printf 'version 2' >model.bin
    ok mlo diff --json model.bin
    assert_eq "model.bin" "$(json_get '[m["path"] for m in j["modified"]]')" "modified"
    assert_eq "sha256:$(printf v1 | sha256sum | cut -d' ' -f1)" "$(json_get 'j["modified"][0]["old"]["hash"]')" "old hash"
    assert_eq "sha256:$(sha256_of model.bin)" "$(json_get 'j["modified"][0]["new"]["hash"]')" "new hash"
    assert_eq 9 "$(json_get 'j["modified"][0]["new"]["size"]')" "new size"
}

test_single_file_add_and_checkout() {
    new_repo
    mkdir models
    make_bytes models/model.bin 300000 model
    cp models/model.bin "$TEST_DIR/model.ref"
    ok mlo add models/model.bin
    assert_file_exists models/model.bin.mlo
    assert_eq model.bin "$(pointer_field models/model.bin.mlo path)" "path"
    assert_eq "sha256:$(sha256_of models/model.bin)" "$(pointer_field models/model.bin.mlo hash)" "hash"
    assert_eq 300000 "$(pointer_field models/model.bin.mlo size)" "size"
    assert_eq "" "$(pointer_field models/model.bin.mlo kind)" "kind of a file pointer"
    # The neighbouring .gitignore, not the root one.
    assert_eq "/model.bin" "$(cat models/.gitignore)" "models/.gitignore"
    assert_no_file .gitignore
    local id
    id=$(sha256_of models/model.bin)
    assert_eq 444 "$(mode_of "$(object_path "$id")")" "object mode"
    # Restore it, by its path and by its pointer file's path, and from inside models/.
    rm models/model.bin
    ok mlo checkout models/model.bin
    cmp models/model.bin "$TEST_DIR/model.ref" || fail "restored model.bin differs"
    rm models/model.bin
    ok mlo checkout models/model.bin.mlo
    cmp models/model.bin "$TEST_DIR/model.ref" || fail "restored model.bin differs"
    rm models/model.bin
    (cd models && mlo checkout model.bin >/dev/null 2>&1) || fail "checkout from models/ failed"
    cmp models/model.bin "$TEST_DIR/model.ref" || fail "restored model.bin differs"
    # A restored file is an ordinary writable file of the user (the default link is a copy).
    [ -w models/model.bin ] || fail "restored model.bin is not writable"
    expect_exit 0 -- mlo status --exit-code
    # Adding from a subdirectory writes the pointer next to the file.
    printf 'cfg' >models/config.json
    (cd models && mlo add config.json >/dev/null 2>&1) || fail "add from models/ failed"
    assert_file_exists models/config.json.mlo
    assert_eq "/model.bin
/config.json" "$(cat models/.gitignore)" "models/.gitignore"
}

test_readd_after_change_updates_the_pointer() {
    added_repo
    local old_hash
    old_hash=$(pointer_field data.mlo hash)
    ok mlo add data
    assert_contains "$(stdout)" "unchanged"
    assert_eq "$old_hash" "$(pointer_field data.mlo hash)" "hash after an unchanged re-add"
    printf 'more\n' >>data/train.csv
    printf 'n' >data/nested/n2
    ok mlo --json add data
    assert_eq true "$(json_get 'j["added"][0]["changed"]')" "changed"
    local new_hash
    new_hash=$(pointer_field data.mlo hash)
    assert_ne "$old_hash" "$new_hash" "hash after a changed re-add"
    assert_eq "$(find data -type f | wc -l)" "$(pointer_field data.mlo files)" "files"
    assert_eq "$(find data -type f -printf '%s\n' | awk '{s += $1} END {print s}')" \
        "$(pointer_field data.mlo size)" "size"
    assert_file_exists "$(object_path "$(sha256_of data/train.csv)")"
    expect_exit 0 -- mlo status --exit-code
    # The old version is still in the store until gc.
    assert_file_exists "$(object_path "${old_hash#sha256:}")"
    assert_file_exists "$(object_path "$(sha256_of "$TEST_DIR/orig/train.csv")")"
    # The same for a single file.
    printf 'v1' >m.bin
    ok mlo add m.bin
    printf 'v2!' >m.bin
    ok mlo add m.bin
    assert_eq "sha256:$(sha256_of m.bin)" "$(pointer_field m.bin.mlo hash)" "hash of m.bin"
    assert_eq 3 "$(pointer_field m.bin.mlo size)" "size of m.bin"
    expect_exit 0 -- mlo status --exit-code
}

test_ls_and_ls_json() {
    added_repo
    printf 'model' >model.bin
    ok mlo add model.bin
    ok mlo ls
    assert_eq 2 "$(wc -l <"$OUT")" "lines of 'ls'"
    assert_contains "$(stdout)" "data/"
    assert_contains "$(stdout)" "model.bin"
    ok mlo ls --json
    assert_stdout_json
    assert_eq "data|model.bin" "$(json_get '[e["path"] for e in j]' | paste -sd'|')" "paths"
    assert_eq "$(pointer_field data.mlo hash)" "$(json_get 'j[0]["hash"]')" "hash of data"
    assert_eq "$(pointer_field data.mlo files)" "$(json_get 'j[0]["files"]')" "files of data"
    assert_eq "dir file" "$(json_get '[e["kind"] for e in j]' | paste -sd' ')" "kinds"
    assert_eq "sha256:$(sha256_of model.bin)" "$(json_get 'j[1]["hash"]')" "hash of model.bin"
    assert_eq 5 "$(json_get 'j[1]["size"]')" "size of model.bin"
    # A tracked directory named on the command line lists its files, with their hashes.
    ok mlo ls --json data
    local want got
    want=$(cd data && find . -type f | sed 's#^\./#data/#' | sort)
    got=$(json_get 'sorted(e["path"] for e in j)')
    assert_eq "$want" "$got" "files listed by 'ls data'"
    got=$(json_get '"\n".join(sorted("%s %s %s" % (e["path"], e["hash"], e["size"]) for e in j))')
    want=$(find data -type f | sort | while IFS= read -r f; do
        echo "$f sha256:$(sha256_of "$f") $(size_of "$f")"
    done | sort)
    assert_eq "$want" "$got" "hashes and sizes listed by 'ls data'"
    assert_eq "data/bin/run.sh data/bin/tool" \
        "$(json_get 'sorted(e["path"] for e in j if e["executable"])' | paste -sd' ')" "executables"
    # ls works when the data itself is gone (it reads pointers and the store).
    rm -rf data
    ok mlo ls --json data
    assert_eq "$want" "$(json_get '"\n".join(sorted("%s %s %s" % (e["path"], e["hash"], e["size"]) for e in j))')" \
        "ls data after deleting data/"
    ok mlo ls --json data/nested
    assert_eq "data/nested/deep/dir/blob.bin data/nested/large.bin data/nested/x" \
        "$(json_get 'sorted(e["path"] for e in j)' | paste -sd' ')" "ls data/nested"
}

# Sets up v1 and v2 of data/ and model.bin; v1's unique objects are unreferenced afterwards.
# Leaves the ids of v1-only objects in $TEST_DIR/v1-only.
two_versions() {
    added_repo
    printf 'v1 model' >model.bin
    ok mlo add model.bin
    cp data.mlo "$TEST_DIR/data.mlo.v1"
    cp model.bin.mlo "$TEST_DIR/model.bin.mlo.v1"
    local v1_manifest v1_model v1_train
    v1_manifest=$(pointer_field data.mlo hash)
    v1_model=$(sha256_of model.bin)
    v1_train=$(sha256_of data/train.csv)
    # dup.csv keeps train.csv's v1 bytes referenced? No: change both so v1's bytes are unused.
    printf 'v2 train\n' >data/train.csv
    printf 'v2 dup\n' >data/empty-dir-sibling/dup.csv
    printf 'v2 model!' >model.bin
    ok mlo add data model.bin
    printf '%s\n' "${v1_manifest#sha256:}" "$v1_model" "$v1_train" | sort >"$TEST_DIR/v1-only"
}

test_gc_dry_run_lists_but_keeps() {
    two_versions
    take_snapshot before
    ok mlo gc --dry-run
    local id
    while IFS= read -r id; do
        assert_contains "$(stdout)" "$id" "'gc --dry-run' output"
    done <"$TEST_DIR/v1-only"
    assert_eq 3 "$(grep -c "would remove [0-9a-f]\{64\}" "$OUT")" "objects listed by 'gc --dry-run'"
    ok mlo gc --dry-run --json
    assert_eq "$(cat "$TEST_DIR/v1-only")" "$(json_get 'sorted(j["removed"])')" "removed"
    assert_eq true "$(json_get 'j["dry_run"]')" "dry_run"
    assert_unchanged before
}

test_gc_removes_only_unreferenced_objects() {
    two_versions
    local before_ids
    before_ids=$(object_ids)
    ok mlo gc --json
    assert_eq "$(cat "$TEST_DIR/v1-only")" "$(json_get 'sorted(j["removed"])')" "removed"
    # Exactly the v1-only objects are gone; every other one is still there.
    assert_eq "$(comm -23 <(printf '%s\n' "$before_ids") "$TEST_DIR/v1-only")" "$(object_ids)" \
        "objects left after gc"
    local id
    while IFS= read -r id; do
        assert_no_file "$(object_path "$id")"
    done <"$TEST_DIR/v1-only"
    expect_exit 0 -- mlo fsck
    # Everything the pointers reference can still be checked out.
    cp -a data "$TEST_DIR/v2"
    cp model.bin "$TEST_DIR/model.v2"
    rm -rf data model.bin
    ok mlo checkout
    assert_same_tree "$TEST_DIR/v2" data
    cmp model.bin "$TEST_DIR/model.v2" || fail "restored model.bin differs"
    # A second gc finds nothing.
    ok mlo gc --json
    assert_eq 0 "$(json_get 'len(j["removed"])')" "removed by a second gc"
}

test_gc_keeps_objects_of_pointers_whose_data_is_gone() {
    added_repo
    mkdir -p sub/deeper
    printf 'deep model' >sub/deeper/m.bin
    ok mlo add sub/deeper/m.bin
    # The workspace copies are deleted (e.g. a fresh clone); the pointers still reference them.
    rm -rf data sub/deeper/m.bin
    local before
    before=$(object_ids)
    ok mlo gc --json
    assert_eq 0 "$(json_get 'len(j["removed"])')" "objects removed"
    assert_eq "$before" "$(object_ids)" "objects after gc"
    ok mlo checkout
    assert_same_tree "$TEST_DIR/orig" data
    assert_eq "deep model" "$(cat sub/deeper/m.bin)" "sub/deeper/m.bin"
}

test_fsck_on_a_clean_store() {
    added_repo
    ok mlo fsck
    assert_matches "$(stdout)" "checked $(object_ids | wc -l) objects: 0 corrupt, 0 missing"
    ok mlo fsck --json
    assert_eq true "$(json_get 'j["ok"]')" "ok"
    assert_eq "$(object_ids | wc -l)" "$(json_get 'j["checked"]')" "checked"
    # fsck only reads.
    take_snapshot before
    ok mlo fsck
    assert_unchanged before
}

test_fsck_finds_and_quarantines_a_corrupt_object() {
    added_repo
    local id f
    id=$(sha256_of data/nested/deep/dir/blob.bin)
    f=$(object_path "$id")
    chmod u+w "$f"
    printf 'bit rot' >"$f"
    chmod 0444 "$f"
    local others
    others=$(object_ids | grep -v "^$id\$")
    expect_exit 1 -- mlo fsck
    assert_contains "$(stdout)" "$id" "fsck output"
    assert_no_file "$f"
    [ -d .mlo/quarantine ] || fail ".mlo/quarantine/ was not created"
    local q
    q=$(grep -rl 'bit rot' .mlo/quarantine | head -n 1)
    [ -n "$q" ] || fail "the corrupt bytes are not in .mlo/quarantine/"
    assert_contains "$q" "$id" "quarantined file name"
    # The good objects were left alone.
    assert_eq "$others" "$(object_ids)" "objects left in the store"
    verify_objects || fail "a remaining object is corrupt"
    # Now the object is missing, and fsck keeps saying so (exit 1), naming who needs it.
    expect_exit 1 -- mlo fsck --json
    assert_eq false "$(json_get 'j["ok"]')" "ok"
    assert_eq "$id" "$(json_get '[m["id"] for m in j["missing"]]')" "missing"
    assert_eq "data/nested/deep/dir/blob.bin" "$(json_get '[m["used_by"] for m in j["missing"]]')" "used_by"
    # The workspace still has the bytes: adding again repairs the store.
    ok mlo add data
    assert_eq 444 "$(mode_of "$f")" "mode of the repaired object"
    assert_eq "$id" "$(sha256_of "$f")" "sha256 of the repaired object"
    expect_exit 0 -- mlo fsck
}

test_fsck_reports_a_missing_object() {
    added_repo
    printf 'model' >model.bin
    ok mlo add model.bin
    local id
    id=$(sha256_of model.bin)
    rm -f "$(object_path "$id")"
    expect_exit 1 -- mlo fsck
    assert_contains "$(stdout)" "$id" "fsck output"
    assert_contains "$(stdout)" "model.bin" "fsck output"
}

test_checkout_refuses_to_lose_changes_not_in_the_store() {
    added_repo
    printf 'local edit, never added\n' >data/train.csv
    rm data/nested/x # something checkout would restore if it ran
    take_snapshot before
    expect_exit 2 -- mlo checkout
    assert_one_line_error "data/train\.csv"
    assert_unchanged before
    # Also when asked for that path only.
    expect_exit 2 -- mlo checkout data/train.csv
    assert_one_line_error "data/train\.csv"
    assert_unchanged before
    # An untracked new file inside the tracked directory would be removed: refused as well.
    cp "$TEST_DIR/orig/train.csv" data/train.csv
    printf 'my notes\n' >data/notes.txt
    take_snapshot before2
    expect_exit 2 -- mlo checkout
    assert_one_line_error "data/notes\.txt"
    assert_unchanged before2
    # A single-file pointer.
    rm data/notes.txt
    printf 'm1' >model.bin
    ok mlo add model.bin
    printf 'unsaved model' >model.bin
    take_snapshot before3
    expect_exit 2 -- mlo checkout model.bin
    assert_one_line_error "model\.bin"
    assert_unchanged before3
    # --force discards them.
    printf 'local edit, never added\n' >data/train.csv
    printf 'my notes\n' >data/notes.txt
    ok mlo checkout --force
    assert_same_tree "$TEST_DIR/orig" data
    assert_eq m1 "$(cat model.bin)" "model.bin after --force"
    expect_exit 0 -- mlo status --exit-code
}

test_checkout_overwrites_content_that_is_in_the_store() {
    added_repo
    printf 'v1' >model.bin
    ok mlo add model.bin
    cp data.mlo "$TEST_DIR/data.mlo.v1"
    cp model.bin.mlo "$TEST_DIR/model.bin.mlo.v1"
    # v2: an edit, a new file, a removed file.
    printf 'v2 train\n' >data/train.csv
    printf 'v2 only\n' >data/nested/v2-only.txt
    rm "data/with space/file name.txt"
    printf 'v2' >model.bin
    ok mlo add data model.bin
    cp -a data "$TEST_DIR/v2"
    cp data.mlo "$TEST_DIR/data.mlo.v2"
    cp model.bin.mlo "$TEST_DIR/model.bin.mlo.v2"
    # As after `git checkout` of the older commit: the pointers are v1, the workspace is v2,
    # and everything in the workspace is in the store, so nothing needs --force.
    cp "$TEST_DIR/data.mlo.v1" data.mlo
    cp "$TEST_DIR/model.bin.mlo.v1" model.bin.mlo
    expect_exit 1 -- mlo status --exit-code
    ok mlo checkout
    assert_same_tree "$TEST_DIR/orig" data
    assert_eq v1 "$(cat model.bin)" "model.bin"
    assert_no_file data/nested/v2-only.txt
    expect_exit 0 -- mlo status --exit-code
    # And forward again.
    cp "$TEST_DIR/data.mlo.v2" data.mlo
    cp "$TEST_DIR/model.bin.mlo.v2" model.bin.mlo
    ok mlo checkout
    assert_same_tree "$TEST_DIR/v2" data
    assert_eq v2 "$(cat model.bin)" "model.bin"
    expect_exit 0 -- mlo status --exit-code
}

test_checkout_of_one_path_inside_a_tracked_directory() {
    added_repo
    rm data/train.csv data/nested/deep/dir/blob.bin data/bin/run.sh
    printf 'unsaved\n' >data/nested/x # not selected, so neither restored nor in the way
    ok mlo checkout data/train.csv
    cmp data/train.csv "$TEST_DIR/orig/train.csv" || fail "data/train.csv differs"
    assert_no_file data/nested/deep/dir/blob.bin
    assert_no_file data/bin/run.sh
    assert_eq unsaved "$(cat data/nested/x)" "data/nested/x"
    assert_eq "deleted data/bin/run.sh
deleted data/nested/deep/dir/blob.bin
modified data/nested/x" "$(status_changes)" "changes left"
    # A subdirectory of the tracked directory.
    ok mlo checkout data/bin
    assert_same_tree "$TEST_DIR/orig/bin" data/bin
    assert_no_file data/nested/deep/dir/blob.bin
    assert_eq unsaved "$(cat data/nested/x)" "data/nested/x"
    ok mlo checkout data/nested/deep
    cmp data/nested/deep/dir/blob.bin "$TEST_DIR/orig/nested/deep/dir/blob.bin" || fail "blob.bin differs"
    assert_eq unsaved "$(cat data/nested/x)" "data/nested/x"
    assert_eq "modified data/nested/x" "$(status_changes)" "changes left"
}

test_gitignore_lists_the_path_once() {
    new_repo
    printf '*.pyc' >.gitignore # an existing entry, without a final newline
    make_data
    ok mlo add data/
    printf 'change\n' >>data/train.csv
    ok mlo add data
    ok mlo add ./data/
    assert_eq "*.pyc
/data" "$(cat .gitignore)" ".gitignore"
    assert_eq 1 "$(grep -cx '/data' .gitignore)" "lines '/data' in .gitignore"
    # The pointer file itself is not ignored (it goes to git).
    assert_eq 0 "$(grep -cx '/data.mlo' .gitignore)" "lines '/data.mlo' in .gitignore"
}

test_hardlink_checkout() {
    added_repo
    # (Block style: in the flow form `core: {link: hardlink,copy}` the comma would end the
    # value; a list `link: [hardlink, copy]` is the other way to write it, checked below.)
    cat >.mlo/config.yaml <<'EOF'
core:
  link: hardlink,copy
EOF
    rm -rf data
    ok mlo --json checkout
    local f id obj
    while IFS= read -r f; do
        id=$(sha256_of "$f")
        obj=$(object_path "$id")
        if [ -x "$TEST_DIR/orig/${f#data/}" ]; then
            # An executable cannot share the read-only object's inode: it is copied.
            assert_ne "$(stat -c %i "$obj")" "$(stat -c %i "$f")" "inode of $f (executable)"
            assert_eq 1 "$(stat -c %h "$f")" "link count of $f (executable)"
            [ -x "$f" ] || fail "$f lost its executable bit"
        else
            assert_eq "$(stat -c %i "$obj")" "$(stat -c %i "$f")" "inode of $f and its object"
            [ "$(stat -c %h "$f")" -gt 1 ] || fail "$f has link count $(stat -c %h "$f")"
            assert_eq 444 "$(mode_of "$f")" "mode of hard-linked $f"
        fi
    done < <(find data -type f)
    assert_same_tree "$TEST_DIR/orig" data
    expect_exit 0 -- mlo status --exit-code
    expect_exit 0 -- mlo fsck
    # Re-adding hard-linked files is harmless.
    ok mlo add data
    assert_contains "$(stdout)" "unchanged"
    expect_exit 0 -- mlo fsck
    # The list form of the setting.
    printf 'core: {link: [hardlink, copy]}\n' >.mlo/config.yaml
    rm data/train.csv
    ok mlo checkout data/train.csv
    assert_eq "$(stat -c %i "$(object_path "$(sha256_of data/train.csv)")")" "$(stat -c %i data/train.csv)" \
        "inode of data/train.csv with link: [hardlink, copy]"
}

test_names_with_newlines_and_backslashes() {
    new_repo
    mkdir data
    printf 'one' >"data/line
break"
    printf 'two' >'data/back\slash'
    printf 'three' >'data/tab	name'
    cp -a data "$TEST_DIR/orig"
    ok mlo add data
    rm -rf data
    ok mlo checkout
    assert_same_tree "$TEST_DIR/orig" data
    expect_exit 0 -- mlo status --exit-code
    printf 'ONE' >"data/line
break"
    expect_exit 1 -- mlo status --exit-code
    ok mlo --json status
    assert_eq "data/line
break" "$(json_get 'j["tracked"][0]["changes"][0]["path"]')" "changed path"
}

test_add_several_paths_at_once() {
    new_repo
    make_data
    mkdir models
    printf 'm' >models/a.bin
    printf 'n' >models/b.bin
    ok mlo --json add data models/a.bin models/b.bin
    assert_eq "data models/a.bin models/b.bin" "$(json_get '[e["path"] for e in j["added"]]' | paste -sd' ')" \
        "added paths"
    assert_file_exists data.mlo
    assert_file_exists models/a.bin.mlo
    assert_file_exists models/b.bin.mlo
    assert_eq "/a.bin
/b.bin" "$(cat models/.gitignore)" "models/.gitignore"
    expect_exit 0 -- mlo status --exit-code
}

# round_trip NAME...: adds each file on its own, checks the pointer, restores all of them at
# once and then each one by name, as a user would type it.
round_trip() {
    local n
    for n in "$@"; do
        printf 'content of %s' "$n" >"./$n"
    done
    for n in "$@"; do
        expect_exit 0 -- mlo add -- "$n"
        assert_file_exists "./$n.mlo"
        assert_eq "sha256:$(sha256_of "./$n")" "$(pointer_field "./$n.mlo" hash)" "hash in '$n.mlo'"
    done
    expect_exit 0 -- mlo status --exit-code
    assert_contains "$(stdout)" "$# tracked path"
    for n in "$@"; do
        rm -- "./$n"
    done
    ok mlo checkout
    for n in "$@"; do
        assert_eq "content of $n" "$(cat -- "./$n")" "restored '$n'"
    done
    for n in "$@"; do
        rm -- "./$n"
        expect_exit 0 -- mlo checkout -- "$n"
        assert_eq "content of $n" "$(cat -- "./$n")" "restored '$n'"
        expect_exit 0 -- mlo status --exit-code -- "$n"
    done
}

test_names_that_look_like_yaml() {
    # Pointer files are YAML: names that YAML would read as null, booleans, numbers, flow
    # collections, anchors, tags or comments must survive the round trip.
    new_repo
    round_trip '~' null NULL yes Off 123 1e3 0x1F '-' '-dash' 'a: b' '#x' '*x' '&x' '!bang' \
        '%p' '@at' ' lead' 'trail ' "it's" '"q"' '{b}' 'a,b' '[2023] raw.csv'
}

test_names_in_brackets_are_paths() {
    # Every argument is a path, even one that looks like a bracketed list ("[x]", "[a,b]").
    new_repo
    round_trip '[x]' '[a,b]' '[draft]'
}

test_checkout_force_replaces_a_directory_standing_where_a_file_goes() {
    added_repo
    # A directory now stands where a tracked file of data/ belongs.
    rm data/train.csv
    mkdir data/train.csv
    printf 'scratch\n' >data/train.csv/scratch.txt
    # Without --force: refused, since scratch.txt is not in the store.
    take_snapshot before
    expect_exit 2 -- mlo checkout
    assert_one_line_error "data/train\.csv"
    assert_unchanged before
    ok mlo checkout --force
    [ -f data/train.csv ] || fail "data/train.csv is not a file after checkout --force"
    assert_same_tree "$TEST_DIR/orig" data
    expect_exit 0 -- mlo status --exit-code
    # The same for a single-file pointer.
    printf 'model' >model.bin
    ok mlo add model.bin
    rm model.bin
    mkdir model.bin
    printf 'scratch\n' >model.bin/scratch.txt
    ok mlo checkout --force model.bin
    assert_eq model "$(cat model.bin)" "model.bin"
}

test_fresh_clone_without_database_or_objects() {
    # What a fresh `git clone` has: pointer files, .gitignore and .mlo/config.yaml; no objects,
    # no database. The commands that need neither work, and a new add recreates what is missing.
    added_repo
    rm -rf .mlo/objects .mlo/mlo.db* .mlo/tmp
    expect_exit 0 -- mlo ls
    assert_contains "$(stdout)" "not in store"
    expect_exit 0 -- mlo status --exit-code
    assert_file_exists .mlo/mlo.db
    # The data is still in the workspace: adding it again fills the store.
    ok mlo add data
    assert_contains "$(stdout)" "unchanged"
    expect_exit 0 -- mlo fsck
    rm -rf data
    ok mlo checkout
    assert_same_tree "$TEST_DIR/orig" data
}

test_gitignore_entries_match_only_the_added_path() {
    require_tools git
    new_repo
    git init -q . || fail "git init failed"
    # Names with characters that .gitignore treats as patterns or trims.
    local -a names=('data[1]' 'a*b' 'q?' 'trail ' '#hash' '!bang' 'back\slash' plain)
    local n
    for n in "${names[@]}"; do
        mkdir -p "./$n"
        printf 'x' >"./$n/f.csv"
        expect_exit 0 -- mlo add -- "$n"
    done
    # Neighbours that the entries must not hide from git.
    local -a others=(data1 aXb qq)
    for n in "${others[@]}"; do
        printf 'y' >"./$n"
    done
    for n in "${names[@]}"; do
        git check-ignore -q -- "$n" || fail "git does not ignore '$n' (.gitignore: $(tr '\n' '|' <.gitignore))"
        git check-ignore -q -- "$n.mlo" && fail "git ignores the pointer file '$n.mlo'"
    done
    for n in "${others[@]}"; do
        git check-ignore -q -- "$n" && fail "git ignores '$n', which mlo does not track (.gitignore: $(tr '\n' '|' <.gitignore))"
    done
    # .mlo/: the settings go to git, the store and the database do not.
    git check-ignore -q .mlo/config.yaml && fail "git ignores .mlo/config.yaml"
    git check-ignore -q .mlo/mlo.db || fail "git does not ignore .mlo/mlo.db"
    git check-ignore -q .mlo/objects || fail "git does not ignore .mlo/objects"
    true
}

test_paths_relative_to_a_subdirectory() {
    added_repo
    cd data/nested || fail "cd"
    printf 'changed\n' >x
    expect_exit 1 -- mlo status --exit-code x
    assert_eq "modified: data/nested/x" "$(stdout | tr -s ' ')" "status of x from data/nested"
    expect_exit 0 -- mlo status --exit-code ../train.csv
    ok mlo checkout --force x
    assert_eq x "$(cat x)" "data/nested/x"
    rm ../train.csv
    ok mlo checkout ../train.csv
    cd ../.. || fail "cd"
    assert_same_tree "$TEST_DIR/orig" data
}

run_tests
