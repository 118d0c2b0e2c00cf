// Implementation of Authenticator.
#include "server/service/authenticator.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace jobgroup {
namespace {

// Reads the whole file, or says why not.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::string contents;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) contents.append(buf, n);
  bool failed = std::ferror(f) != 0;
  int error = errno;
  std::fclose(f);
  OPENSSL_cleanse(buf, sizeof buf);
  if (failed) {
    OPENSSL_cleanse(contents.data(), contents.size());
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(error)));
  }
  return contents;
}

// A token is what may follow "Bearer " in a header: printable ASCII, no
// spaces (RFC 6750's b64token, a little wider).
bool IsValidToken(absl::string_view token) {
  return !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
    return c > ' ' && c < 0x7f;
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromFile(
    const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return contents.status();
  std::vector<Digest> digests;
  absl::Status error;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*contents, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (!IsValidToken(line)) {
      error = absl::InvalidArgumentError(
          absl::StrCat(path, " line ", line_number,
                       ": a token must be printable ASCII without spaces"));
      break;
    }
    Digest d = DigestOf(line);
    if (std::find(digests.begin(), digests.end(), d) == digests.end()) {
      digests.push_back(d);
    }
  }
  OPENSSL_cleanse(contents->data(), contents->size());
  if (!error.ok()) return error;
  if (digests.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no token (only blank or # lines)"));
  }
  return std::unique_ptr<Authenticator>(new Authenticator(std::move(digests)));
}

Authenticator::Digest Authenticator::DigestOf(absl::string_view token) {
  Digest d{};
  unsigned int size = 0;
  // EVP_Digest with SHA-256 cannot fail short of memory exhaustion; then
  // `d` stays zero, which matches no token's digest in practice.
  EVP_Digest(token.data(), token.size(), d.data(), &size, EVP_sha256(),
             nullptr);
  return d;
}

absl::Status Authenticator::Check(absl::string_view authorization) const {
  return Identify(authorization).status();
}

absl::StatusOr<std::string> Authenticator::Identify(
    absl::string_view authorization) const {
  // The scheme, then one or more spaces, then the token (RFC 7235).
  constexpr absl::string_view kScheme = "bearer ";
  absl::string_view token;
  bool well_formed = absl::StartsWithIgnoreCase(authorization, kScheme) &&
                     IsValidToken(token = absl::StripLeadingAsciiWhitespace(
                                      authorization.substr(kScheme.size())));
  // The same work whatever is wrong: hash, then compare with every digest.
  Digest presented = DigestOf(well_formed ? token : absl::string_view());
  int matches = 0;
  for (const Digest& d : digests_) {
    matches |= CRYPTO_memcmp(d.data(), presented.data(), d.size()) == 0;
  }
  std::string name = absl::StrCat(
      "sha256:", absl::BytesToHexString(absl::string_view(
                     reinterpret_cast<const char*>(presented.data()), 6)));
  OPENSSL_cleanse(presented.data(), presented.size());
  if (well_formed && matches != 0) return name;
  return absl::UnauthenticatedError(kRefusal);
}

}  // namespace jobgroup
