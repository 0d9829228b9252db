#include <algorithm>

#include "core/workspace.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using mlo::test::TempDir;
using mlo::test::write_text;

TEST_CASE("scan_tree lists every file in bytewise path order, whatever the threads do",
          "[workspace]") {
    TempDir tmp;
    // '.' < '/' < '0' bytewise: "a.txt" comes before the files of directory "a", "a0" after.
    std::vector<std::string> paths = {"a.txt", "a/x",   "a/b/c",   "a/b.c", "a0",  "a-b/y",
                                      "b",     "A/z",   "a/b/c0",  "a/b0",  "a/~", "zz/y/x/w",
                                      "a b/c", "a/b/c/d/e" /* under a directory named c */};
    paths.erase(std::find(paths.begin(), paths.end(), "a/b/c"));  // c is a directory here
    for (int d = 0; d < 40; ++d)
        for (int f = 0; f < 5; ++f)
            paths.push_back("many/d" + std::to_string(d) + "/f" + std::to_string(f));
    for (const auto& p : paths)
        write_text(tmp / ("tree/" + p), p);
    std::vector<std::string> want = paths;
    std::sort(want.begin(), want.end());

    for (unsigned jobs : {1u, 2u, 4u}) {
        CAPTURE(jobs);
        auto files = scan_tree(tmp / "tree", tmp.path(), jobs, NestedPointers::allowed);
        std::vector<std::string> got;
        for (const auto& f : files)
            got.push_back(f.path);
        CHECK(got == want);
        auto it = std::find_if(files.begin(), files.end(),
                               [](const ScanEntry& e) { return e.path == "a/x"; });
        REQUIRE(it != files.end());
        CHECK(it->st.size == 3);
    }
}
