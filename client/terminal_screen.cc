// Raw mode and the alternate screen for `jobgroup top`; see
// terminal_screen.h.
#include "client/terminal_screen.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

namespace jobgroup::client {
namespace {

constexpr char kEnter[] = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
constexpr char kLeave[] = "\x1b[?25h\x1b[?1049l";

winsize Size(int fd) {
  winsize size{};
  if (ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) {
    size.ws_col = 80;
    size.ws_row = 24;
  }
  return size;
}

}  // namespace

int TerminalColumns(int fd) { return Size(fd).ws_col; }

TerminalScreen::TerminalScreen(int in_fd, int out_fd, std::ostream& out)
    : in_fd_(in_fd), out_fd_(out_fd), out_(out) {
  if (isatty(in_fd_) == 1 && tcgetattr(in_fd_, &saved_) == 0) {
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG | IEXTEN);
    raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    raw_ = tcsetattr(in_fd_, TCSAFLUSH, &raw) == 0;
  }
  out_ << kEnter << std::flush;
}

TerminalScreen::~TerminalScreen() {
  out_ << kLeave << std::flush;
  if (raw_) tcsetattr(in_fd_, TCSAFLUSH, &saved_);
}

std::optional<int> TerminalScreen::ReadKey(absl::Duration timeout) {
  const int ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  if (!raw_) {
    poll(nullptr, 0, ms);
    return std::nullopt;
  }
  pollfd fd{in_fd_, POLLIN, 0};
  if (poll(&fd, 1, ms) <= 0) return std::nullopt;
  char buf[8];
  const ssize_t n = read(in_fd_, buf, sizeof(buf));
  if (n <= 0) return std::nullopt;
  if (buf[0] == '\x1b' && n >= 3 && (buf[1] == '[' || buf[1] == 'O')) {
    if (buf[2] == 'A') return kKeyUp;
    if (buf[2] == 'B') return kKeyDown;
    return std::nullopt;
  }
  return static_cast<unsigned char>(buf[0]);
}

void TerminalScreen::Draw(const std::vector<std::string>& lines) {
  const size_t rows = static_cast<size_t>(std::max(height(), 1));
  std::string screen = "\x1b[H";
  for (size_t i = 0; i < lines.size(); ++i) {
    // Cut to the height, but keep the last line (the status line).
    if (i + 1 >= rows && i + 1 < lines.size()) continue;
    screen += lines[i];
    screen += "\x1b[K";
    if (i + 1 < lines.size()) screen += "\r\n";
  }
  screen += "\x1b[J";
  out_ << screen << std::flush;
}

int TerminalScreen::width() const { return Size(out_fd_).ws_col; }
int TerminalScreen::height() const { return Size(out_fd_).ws_row; }

}  // namespace jobgroup::client
