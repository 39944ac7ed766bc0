// Helpers of the catalog tests: a temporary directory, and unwrapping a catalog_result.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "stasis/control/catalog.hpp"

namespace stasis::control::testing {

// A fresh directory under $TMPDIR, removed with everything in it.
struct temp_dir {
    std::filesystem::path path;

    temp_dir()
    {
        std::string t = (std::filesystem::temp_directory_path() / "stasis-catalog-XXXXXX").string();
        if (!mkdtemp(t.data()))
            throw std::runtime_error("mkdtemp " + t + " failed");
        path = t;
    }
    ~temp_dir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string &name) const { return (path / name).string(); }
};

// The value, or a thrown error with the catalog's message (GoogleTest reports it and fails the test).
template <class T>
T must(catalog_result<T> r)
{
    if (!r)
        throw std::runtime_error(r.error().message);
    return std::move(*r);
}

inline void must(catalog_result<void> r)
{
    if (!r)
        throw std::runtime_error(r.error().message);
}

}  // namespace stasis::control::testing
