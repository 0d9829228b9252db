#include "storage/hash.hpp"

#include <memory>
#include <vector>

#include "storage/error.hpp"
#include "storage/fs.hpp"

namespace mlo {

std::string to_hex(const Digest& d) {
    static const char* digits = "0123456789abcdef";
    std::string s(64, '0');
    for (size_t i = 0; i < d.size(); ++i) {
        s[2 * i] = digits[d[i] >> 4];
        s[2 * i + 1] = digits[d[i] & 15];
    }
    return s;
}

namespace {

// The value of each lowercase hex digit, -1 for every other byte: one load per character
// (a manifest of 100,000 files holds 6.4 million of them).
struct HexTable {
    int8_t value[256];
    constexpr HexTable() : value{} {
        for (int c = 0; c < 256; ++c)
            value[c] = c >= '0' && c <= '9'   ? int8_t(c - '0')
                       : c >= 'a' && c <= 'f' ? int8_t(c - 'a' + 10)
                                              : int8_t(-1);
    }
};
constexpr HexTable kHexTable;

}  // namespace

std::optional<Digest> digest_from_hex(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    Digest d{};
    int bad = 0;
    for (size_t i = 0; i < 32; ++i) {
        int hi = kHexTable.value[uint8_t(hex[2 * i])],
            lo = kHexTable.value[uint8_t(hex[2 * i + 1])];
        bad |= hi | lo;  // negative if either was not a digit
        d[i] = uint8_t((hi & 15) << 4 | (lo & 15));
    }
    if (bad < 0) return std::nullopt;
    return d;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
        throw Error("cannot initialise SHA-256: OpenSSL failed");
    }
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(ctx_);
}

void Sha256::update(const void* data, size_t size) {
    if (size && EVP_DigestUpdate(ctx_, data, size) != 1) throw Error("SHA-256 update failed");
}

Digest Sha256::finish() {
    Digest d{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_, d.data(), &len) != 1 || len != d.size()) {
        throw Error("SHA-256 final failed");
    }
    return d;
}

Digest sha256(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.finish();
}

Digest sha256_fd(int fd, uint64_t* size_out, const std::string& what) {
    Sha256 h;
    std::vector<char> buf(1 << 20);
    uint64_t off = 0;
    for (;;) {
        size_t n = pread_full(fd, buf.data(), buf.size(), off, what);
        if (n == 0) break;
        h.update(buf.data(), n);
        off += n;
        if (n < buf.size()) break;
    }
    if (size_out) *size_out = off;
    return h.finish();
}

}  // namespace mlo
