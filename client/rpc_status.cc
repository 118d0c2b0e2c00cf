// gRPC status to absl::Status, with readable connection errors; see
// rpc_status.h.
#include "client/rpc_status.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace jobgroup::client {
namespace {

// gRPC reports connection failures as UNAVAILABLE with the transport's words
// in the message; these are the ones gRPC 1.51 uses.
struct Cause {
  absl::string_view needle;
  absl::string_view reason;
  absl::string_view advice;
};
constexpr absl::string_view kIsItRunning = "is the server running?";
constexpr absl::string_view kCheckName = "check the host name";
constexpr absl::string_view kCheckNetwork = "check the address and network";
constexpr absl::string_view kCheckTls =
    "check --tls-ca and that the server speaks TLS";
constexpr Cause kConnectionCauses[] = {
    {"Connection refused", "connection refused", kIsItRunning},
    {"DNS resolution failed", "the host name does not resolve", kCheckName},
    {"Domain name not found", "the host name does not resolve", kCheckName},
    {"Name or service not known", "the host name does not resolve", kCheckName},
    {"No address", "the host name does not resolve", kCheckName},
    {"Connection timed out", "connection timed out", kCheckNetwork},
    {"Network is unreachable", "network unreachable", kCheckNetwork},
    {"No route to host", "no route to host", kCheckNetwork},
    {"handshake", "TLS handshake failed", kCheckTls},
    {"SSL", "TLS handshake failed", kCheckTls},
    {"Connection reset", "connection reset", kIsItRunning},
    {"Socket closed", "connection closed by the peer", kIsItRunning},
    {"failed to connect", "connection failed", kIsItRunning},
    {"Failed to connect", "connection failed", kIsItRunning},
};

const Cause* FindCause(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return nullptr;
  for (const Cause& cause : kConnectionCauses) {
    if (absl::StrContains(status.error_message(), cause.needle)) return &cause;
  }
  return nullptr;
}

std::string OneLine(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\n", " "}, {"\r", " "}});
}

}  // namespace

bool IsConnectionFailure(const grpc::Status& status) {
  return FindCause(status) != nullptr;
}

absl::Status FromGrpcStatus(const grpc::Status& status,
                            absl::string_view target,
                            absl::string_view method) {
  if (status.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  if (const Cause* cause = FindCause(status)) {
    return absl::Status(code,
                        absl::StrCat("cannot reach jobgroupd at ", target, ": ",
                                     cause->reason, " — ", cause->advice));
  }
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::Status(
        code,
        absl::StrCat("jobgroupd at ", target, " is unavailable (",
                     OneLine(status.error_message()), ") — try again shortly"));
  }
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    return absl::Status(
        code, absl::StrCat(method, " is not implemented by the server at ",
                           target, " — is it a jobgroupd of this version?"));
  }
  std::string message = OneLine(status.error_message());
  if (message.empty()) message = "(no message)";
  return absl::Status(code, absl::StrCat(method, ": ", message));
}

}  // namespace jobgroup::client
