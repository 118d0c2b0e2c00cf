// Explains a failed listen by binding the address once more; see
// listen_error.h.
#include "server/service/listen_error.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace jobgroup {
namespace {

// Splits "host:port", "[v6]:port" or ":port"; false when it is neither.
bool SplitHostPort(absl::string_view address, std::string* host,
                   std::string* port) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon + 1 == address.size()) {
    return false;
  }
  absl::string_view h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  *host = std::string(h);
  *port = std::string(address.substr(colon + 1));
  return true;
}

}  // namespace

absl::Status CheckListenAddress(absl::string_view what,
                                absl::string_view address) {
  const std::string prefix = what.empty() ? "" : absl::StrCat(what, ": ");
  std::string host;
  std::string port;
  if (!SplitHostPort(address, &host, &port) ||
      !std::all_of(port.begin(), port.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    // Not HOST:PORT (gRPC also takes unix:PATH, say): the listener decides.
    return absl::OkStatus();
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(),
                           &hints, &found);
      rc != 0) {
    return absl::UnavailableError(absl::StrCat(
        prefix, "cannot listen on ", address, ": ", gai_strerror(rc)));
  }
  int error = 0;
  for (addrinfo* ai = found; ai != nullptr && error != EADDRINUSE;
       ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    // As the servers do, so that connections of a previous process still in
    // TIME_WAIT do not count as "in use".
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) error = errno;
    close(fd);
  }
  freeaddrinfo(found);
  if (error == 0) return absl::OkStatus();
  if (error == EADDRINUSE) {
    return absl::UnavailableError(
        absl::StrCat(prefix, "address ", address, " is already in use"));
  }
  if (error == EACCES) {
    return absl::UnavailableError(
        absl::StrCat(prefix, "cannot listen on ", address,
                     ": permission denied (ports below 1024 need privileges)"));
  }
  return absl::UnavailableError(absl::StrCat(
      prefix, "cannot listen on ", address, ": ", std::strerror(error)));
}

absl::Status ListenError(absl::string_view what, absl::string_view address) {
  absl::Status status = CheckListenAddress(what, address);
  if (!status.ok()) return status;
  return absl::UnavailableError(
      absl::StrCat(what.empty() ? "" : absl::StrCat(what, ": "),
                   "cannot listen on ", address));
}

}  // namespace jobgroup
