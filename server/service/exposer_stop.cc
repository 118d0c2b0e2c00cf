// Implementation of StopListenerAtOnce().
#include "server/service/exposer_stop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace jobgroup {
namespace {

// One connection to `port` on the loopback address of `family`, closed at
// once; errors are ignored (nothing may listen there).
void Knock(int family, int port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    a.sin6_addr = in6addr_loopback;
    connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  close(fd);
}

}  // namespace

void StopListenerAtOnce(const std::vector<int>& ports,
                        absl::FunctionRef<void()> stop) {
  std::atomic<bool> stopped{false};
  std::thread knocker([&stopped, &ports] {
    while (!stopped.load()) {
      for (int port : ports) {
        Knock(AF_INET, port);
        Knock(AF_INET6, port);
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  stop();
  stopped.store(true);
  knocker.join();
}

}  // namespace jobgroup
