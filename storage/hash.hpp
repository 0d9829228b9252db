#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace mlo {

// SHA-256 of an object's exact bytes; its lowercase hex form is the object's name.
using Digest = std::array<uint8_t, 32>;

std::string to_hex(const Digest& d);
// Accepts exactly 64 lowercase hex digits.
std::optional<Digest> digest_from_hex(std::string_view hex);

// Incremental SHA-256 through OpenSSL EVP (which uses the CPU's SHA extensions when present).
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, size_t size);
    void update(std::string_view s) { update(s.data(), s.size()); }
    Digest finish();

private:
    EVP_MD_CTX* ctx_;
};

Digest sha256(std::string_view data);
// Hashes everything readable from `fd` from offset 0; `size_out` gets the byte count.
Digest sha256_fd(int fd, uint64_t* size_out, const std::string& what);

}  // namespace mlo
