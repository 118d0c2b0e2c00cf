// Authenticator: the bearer tokens jobgroupd accepts (--auth_tokens_file)
// and the check every JobService call goes through when they are set.
//
// A call is let in when its `authorization` metadata is `Bearer <token>`
// for one of the tokens; otherwise it gets UNAUTHENTICATED with one message
// whatever was wrong (no metadata, another scheme, an unknown token), so a
// caller learns nothing about how close it came.
//
// Only the SHA-256 digest of each token is kept, never the token, and no
// error or log line carries one. Check() hashes the presented token and
// compares its digest with every known digest using CRYPTO_memcmp, without
// stopping at a match: its time depends neither on which token matched nor
// on how many leading bytes were right, and, the digests being all of one
// length, not on the tokens' lengths either.
//
// Immutable once built; Check() may be called from any thread at once.
#ifndef JOBGROUP_SERVER_SERVICE_AUTHENTICATOR_H_
#define JOBGROUP_SERVER_SERVICE_AUTHENTICATOR_H_

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jobgroup {

class Authenticator {
 public:
  // The message of every refusal.
  static constexpr char kRefusal[] = "missing or invalid bearer token";

  // Authenticator::FromFile()
  //
  // Reads the tokens at `path`: one a line, surrounding whitespace stripped;
  // blank lines and lines starting with '#' are skipped. A token is
  // printable ASCII without spaces. Errors name the file and the line, never
  // a token: the file cannot be read, a line is not a valid token, or the
  // file holds no token at all.
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromFile(
      const std::string& path);

  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Authenticator::Check()
  //
  // `authorization` is the value of the call's authorization metadata,
  // empty when the call has none. OK when it is "Bearer <token>" (the scheme
  // is case-insensitive) for a known token; otherwise UNAUTHENTICATED with
  // kRefusal. Never blocks.
  absl::Status Check(absl::string_view authorization) const;

  // Authenticator::Identify()
  //
  // Check(), and on success the token's name: "sha256:" and the first 12
  // hex digits of its SHA-256, which tells tokens apart without revealing
  // one (`printf %s TOKEN | sha256sum`).
  absl::StatusOr<std::string> Identify(absl::string_view authorization) const;

  // How many distinct tokens are accepted.
  size_t token_count() const { return digests_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;  // SHA-256.

  explicit Authenticator(std::vector<Digest> digests)
      : digests_(std::move(digests)) {}
  static Digest DigestOf(absl::string_view token);

  const std::vector<Digest> digests_;
};

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_SERVICE_AUTHENTICATOR_H_
